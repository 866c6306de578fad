import { describe, expect, it } from 'vitest';
import { batchCommand, encodeQuery, pick, Ref, refsOf, resolveRefs } from './encode.ts';

const target = {};

describe('encodeQuery (PHP http_build_query semantics)', () => {
  it('nests objects and lists in brackets, with every key and value URL-encoded', () => {
    const q = encodeQuery({ FILTER: { UF_PHONE_INNER: '101', '!ID': [1, 2] }, select: ['ID', 'NAME'] });
    expect(decodeURIComponent(q)).toBe(
      'FILTER[UF_PHONE_INNER]=101&FILTER[!ID][0]=1&FILTER[!ID][1]=2&select[0]=ID&select[1]=NAME',
    );
    expect(q).toContain('FILTER%5BUF_PHONE_INNER%5D=101');
  });

  it('sends booleans as 1/0 and leaves out null and undefined, as PHP does', () => {
    expect(encodeQuery({ SHOW: false, ADD_TO_CHAT: true, CRM_SOURCE: null, LINE_NUMBER: undefined })).toBe(
      'SHOW=0&ADD_TO_CHAT=1',
    );
  });

  it('encodes the characters that would break a query or a batch command', () => {
    const q = encodeQuery({ NAME: 'A&B=C?D#E%F[G] +' });
    expect(q).toBe('NAME=A%26B%3DC%3FD%23E%25F%5BG%5D%20%2B');
    expect(decodeURIComponent(q.slice(5))).toBe('A&B=C?D#E%F[G] +');
  });
});

describe('references', () => {
  it('become $result[key][path] inside a batch and values outside', () => {
    const ref = new Ref(target, ['CALL_ID']);
    const params = { CALL_ID: ref, USER_ID: [2, 3] };
    expect(refsOf(params)).toEqual([ref]);
    const inBatch = batchCommand('telephony.externalCall.show', params, () => ({ batchKey: 'o7' }));
    expect(inBatch).toBe(
      'telephony.externalCall.show?CALL_ID=%24result%5Bo7%5D%5BCALL_ID%5D&USER_ID%5B0%5D=2&USER_ID%5B1%5D=3',
    );
    expect(decodeURIComponent(inBatch)).toContain('CALL_ID=$result[o7][CALL_ID]');
    const known = resolveRefs(params, () => ({ value: 'externalCall.abc.1' }));
    expect(known).toEqual({ CALL_ID: 'externalCall.abc.1', USER_ID: [2, 3] });
  });

  it('a method without parameters is just its name', () => {
    expect(batchCommand('app.info', {}, () => ({ value: null }))).toBe('app.info');
  });

  it('pick walks objects and lists', () => {
    expect(pick({ a: [{ b: 'x' }] }, ['a', '0', 'b'])).toBe('x');
    expect(pick({ a: 1 }, ['a', 'b'])).toBeUndefined();
  });
});
