import { describe, expect, it } from 'vitest';
import { BitrixError, networkError, portalError } from './errors.ts';
import { readEnvelope } from './transport.ts';
import { bool, dateOrNull, intOrNull, ints, list, obj } from './parse.ts';

describe('portal errors get a stable code', () => {
  it.each([
    ['QUERY_LIMIT_EXCEEDED', 503, 'RATE_LIMITED', false],
    ['OPERATION_TIME_LIMIT', 429, 'OPERATION_TIME_LIMIT', false],
    ['expired_token', 401, 'TOKEN_EXPIRED', false],
    ['NO_AUTH_FOUND', 401, 'AUTH_FAILED', false],
    ['insufficient_scope', 403, 'ACCESS_DENIED', false],
    ['WRONG_AUTH_TYPE', 403, 'ACCESS_DENIED', false],
    ['INTERNAL_SERVER_ERROR', 500, 'SERVER_ERROR', true],
    ['OVERLOAD_LIMIT', 503, 'SERVER_ERROR', false],
    ['ERROR_CORE', 400, 'PORTAL_ERROR', false],
    ['', 400, 'PORTAL_ERROR', false],
  ] as const)('%s (HTTP %d) → %s', (error, status, code, maybeDelivered) => {
    const e = portalError('telephony.externalCall.finish', { error, error_description: 'text' }, status);
    expect(e).toBeInstanceOf(BitrixError);
    expect(e.code).toBe(code);
    expect(e.portalError).toBe(error);
    expect(e.portalDescription).toBe('text');
    expect(e.status).toBe(status);
    expect(e.maybeDelivered).toBe(maybeDelivered);
  });

  it('reads envelopes: success, error, HTML outage page, garbage', () => {
    expect(readEnvelope({ status: 200, json: { result: true, time: { start: 1 } } }, 'x')).toMatchObject({
      result: true,
    });
    expect(
      readEnvelope({ status: 400, json: { error: '', error_description: 'Not found' } }, 'x'),
    ).toMatchObject({
      code: 'PORTAL_ERROR',
      portalDescription: 'Not found',
    });
    expect(readEnvelope({ status: 503, json: undefined }, 'x')).toMatchObject({
      code: 'SERVER_ERROR',
      maybeDelivered: false,
    });
    expect(readEnvelope({ status: 502, json: undefined }, 'x')).toMatchObject({ maybeDelivered: true });
    expect(readEnvelope({ status: 200, json: { nothing: 1 } }, 'x')).toMatchObject({ code: 'BAD_RESPONSE' });
  });
});

describe('network failures say whether the portal may have seen the request', () => {
  it('refused before sending: not delivered', () => {
    const e = networkError('m', new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } }));
    expect(e).toMatchObject({ code: 'NETWORK', maybeDelivered: false });
    expect(e.cause).toBeInstanceOf(TypeError);
  });

  it('closed after sending, or timed out: maybe delivered', () => {
    const reset = networkError('m', new TypeError('fetch failed', { cause: { code: 'UND_ERR_SOCKET' } }));
    expect(reset).toMatchObject({ code: 'NETWORK', maybeDelivered: true });
    const timeout = networkError('m', Object.assign(new Error('t'), { name: 'TimeoutError' }));
    expect(timeout).toMatchObject({ code: 'TIMEOUT', maybeDelivered: true });
  });
});

describe('tolerant readers', () => {
  it('take ids as strings, {} as no date, [] as an empty object and {} as an empty list', () => {
    expect(intOrNull('17')).toBe(17);
    expect(intOrNull(17)).toBe(17);
    expect(intOrNull('')).toBeNull();
    expect(intOrNull({})).toBeNull();
    expect(dateOrNull({})).toBeNull();
    expect(dateOrNull('2026-03-10T11:19:38+03:00')?.toISOString()).toBe('2026-03-10T08:19:38.000Z');
    expect(obj([])).toEqual({});
    expect(list({})).toEqual([]);
    expect(ints(['1', 2, 'x'])).toEqual([1, 2]);
    expect([bool('Y'), bool('N'), bool(1), bool('0'), bool(true)]).toEqual([true, false, true, false, true]);
  });
});
