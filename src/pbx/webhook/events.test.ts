import { describe, expect, it } from 'vitest';
import type { PbxEventType } from '../types.ts';
import { eventTypes, httpStatusOf, parseEvents, parseEventsBody, type Parsed } from './index.ts';

const started = {
  type: 'call.started',
  callId: 'c1',
  direction: 'inbound',
  from: '+79161234567',
  to: '+74950000001',
};

function refused<T>(result: Parsed<T>) {
  if (result.ok) throw new Error('expected a refusal');
  return result.error;
}

function accepted<T>(result: Parsed<T>): T {
  if (!result.ok) throw new Error(`expected acceptance, got ${result.error.message}`);
  return result.value;
}

describe('POST /pbx/v1/events bodies', () => {
  it('covers exactly the engine event types', () => {
    const engineTypes: Record<PbxEventType, true> = {
      'call.started': true,
      'call.ringing': true,
      'call.ring_stopped': true,
      'call.answered': true,
      'call.transferred': true,
      'call.ended': true,
      'recording.ready': true,
    };
    expect([...eventTypes].sort()).toEqual(Object.keys(engineTypes).sort());
  });

  it('accepts one event, an array, and an empty array', () => {
    expect(accepted(parseEvents(started))).toHaveLength(1);
    expect(accepted(parseEvents([started, { type: 'call.ended', callId: 'c1' }]))).toHaveLength(2);
    expect(accepted(parseEvents([]))).toEqual([]);
  });

  it('accepts every documented event shape, nulls for optional fields, and ignores unknown fields', () => {
    const body = [
      { ...started, line: null, at: null, pbxVendorField: 42 },
      { type: 'call.ringing', callId: 'c1', extensions: ['101', '102'] },
      { type: 'call.ring_stopped', callId: 'c1', extensions: [] },
      { type: 'call.answered', callId: 'c1', extension: '101', at: '2026-03-10T12:00:07.5+03:00' },
      { type: 'call.transferred', callId: 'c1', to: '102' },
      { type: 'call.ended', callId: 'c1', reason: 'completed' },
      { type: 'recording.ready', callId: 'c1', url: 'https://pbx.example/r/c1.mp3', filename: 'c1.mp3' },
      { type: 'recording.ready', callId: 'c1', contentBase64: 'AAECAw==' },
      { ...started, from: '' },
    ];
    expect(accepted(parseEvents(body)).map((e) => e.type)).toEqual(body.map((e) => e.type));
  });

  it.each([
    ['a string', '"hello"', 'INVALID_BODY', ''],
    ['null', 'null', 'INVALID_BODY', ''],
    ['a number in a batch', '[1]', 'WRONG_TYPE', '/0'],
    ['no type', '{"callId":"c1"}', 'MISSING_FIELD', '/type'],
    ['a numeric type', '{"type":7}', 'WRONG_TYPE', '/type'],
    ['an unknown type', '{"type":"call.exploded","callId":"c1"}', 'UNKNOWN_EVENT_TYPE', '/type'],
    ['no callId', '{"type":"call.ended"}', 'MISSING_FIELD', '/callId'],
    ['an empty callId', '{"type":"call.ended","callId":""}', 'INVALID_VALUE', '/callId'],
    ['a numeric callId', '{"type":"call.ended","callId":5}', 'WRONG_TYPE', '/callId'],
    ['a bad direction', JSON.stringify({ ...started, direction: 'sideways' }), 'INVALID_VALUE', '/direction'],
    ['a missing from', JSON.stringify({ ...started, from: undefined }), 'MISSING_FIELD', '/from'],
    ['a bad reason', '{"type":"call.ended","callId":"c1","reason":"bored"}', 'INVALID_VALUE', '/reason'],
    [
      'extensions not a list',
      '{"type":"call.ringing","callId":"c1","extensions":"101"}',
      'WRONG_TYPE',
      '/extensions',
    ],
    [
      'a numeric extension in a list',
      '[{"type":"call.ringing","callId":"c1","extensions":["101",102]}]',
      'WRONG_TYPE',
      '/0/extensions/1',
    ],
    [
      'an extension with a space',
      '{"type":"call.answered","callId":"c1","extension":"1 01"}',
      'INVALID_VALUE',
      '/extension',
    ],
    [
      'at without a zone',
      '{"type":"call.ended","callId":"c1","at":"2026-03-10T12:00:00"}',
      'INVALID_VALUE',
      '/at',
    ],
    ['at as epoch ms', '{"type":"call.ended","callId":"c1","at":1773144000000}', 'WRONG_TYPE', '/at'],
    [
      'at on 30 February',
      '{"type":"call.ended","callId":"c1","at":"2026-02-30T12:00:00Z"}',
      'INVALID_VALUE',
      '/at',
    ],
    ['a recording with nothing', '{"type":"recording.ready","callId":"c1"}', 'MISSING_FIELD', '/url'],
    [
      'a recording with both',
      '{"type":"recording.ready","callId":"c1","url":"https://x.example/a.mp3","contentBase64":"AAAA"}',
      'INVALID_VALUE',
      '/contentBase64',
    ],
    [
      'an ftp url',
      '{"type":"recording.ready","callId":"c1","url":"ftp://x.example/a.mp3"}',
      'INVALID_VALUE',
      '/url',
    ],
    [
      'a javascript url',
      '{"type":"recording.ready","callId":"c1","url":"javascript:alert(1)"}',
      'INVALID_VALUE',
      '/url',
    ],
    [
      'bad base64',
      '{"type":"recording.ready","callId":"c1","contentBase64":"not base64!"}',
      'INVALID_VALUE',
      '/contentBase64',
    ],
    [
      'empty base64',
      '{"type":"recording.ready","callId":"c1","contentBase64":""}',
      'INVALID_VALUE',
      '/contentBase64',
    ],
    [
      'a filename with a folder',
      '{"type":"recording.ready","callId":"c1","url":"https://x.example/a.mp3","filename":"../etc/passwd"}',
      'INVALID_VALUE',
      '/filename',
    ],
    ['malformed JSON', '{"type":', 'MALFORMED_JSON', ''],
  ])('refuses %s', (_name, raw, code, path) => {
    const error = refused(parseEventsBody(raw));
    expect(error.code).toBe(code);
    expect(error.path).toBe(path);
    expect(error.location).toBe('body');
    expect(error.message).toContain(path === '' ? 'body' : path);
    expect(httpStatusOf(error.code)).toBe(400);
  });

  it('names the known types when refusing an unknown one, without echoing a long value', () => {
    const error = refused(parseEvents({ type: `x${'y'.repeat(500)}` }));
    expect(error.message).toContain('call.started');
    expect(error.message.length).toBeLessThan(300);
  });

  it('refuses a whole batch for one bad event, and lists every problem', () => {
    const error = refused(
      parseEvents([started, { type: 'call.answered', callId: 'c1' }, { type: 'call.ended', callId: 3 }]),
    );
    expect(error.code).toBe('MISSING_FIELD');
    expect(error.path).toBe('/1/extension');
    expect(error.problems.map((p) => [p.code, p.path])).toEqual([
      ['MISSING_FIELD', '/1/extension'],
      ['WRONG_TYPE', '/2/callId'],
    ]);
    expect(error.toJSON().error.code).toBe('MISSING_FIELD');
  });

  it('tells "too large" apart: body, batch, recording', () => {
    const big = JSON.stringify({ ...started, padding: 'x'.repeat(1_048_576) });
    const body = refused(parseEventsBody(big));
    expect([body.code, httpStatusOf(body.code)]).toEqual(['BODY_TOO_LARGE', 413]);
    expect(refused(parseEventsBody(new TextEncoder().encode(big))).code).toBe('BODY_TOO_LARGE');
    // Multi-byte characters count as bytes, not as UTF-16 units.
    expect(refused(parseEventsBody(JSON.stringify({ ...started, pad: 'я'.repeat(600_000) }))).code).toBe(
      'BODY_TOO_LARGE',
    );

    const many = Array.from({ length: 1001 }, () => ({ type: 'call.ended', callId: 'c1' }));
    expect(refused(parseEvents(many)).code).toBe('TOO_MANY_EVENTS');

    const recording = { type: 'recording.ready', callId: 'c1', contentBase64: 'AAAA'.repeat(300) };
    const tooBig = refused(parseEvents(recording, { maxRecordingBytes: 899 }));
    expect([tooBig.code, tooBig.path, httpStatusOf(tooBig.code)]).toEqual([
      'RECORDING_TOO_LARGE',
      '/contentBase64',
      413,
    ]);
    expect(accepted(parseEvents(recording, { maxRecordingBytes: 900 }))).toHaveLength(1);
  });

  it('refuses bytes that are not UTF-8', () => {
    expect(refused(parseEventsBody(new Uint8Array([0x7b, 0xff, 0x7d]))).code).toBe('MALFORMED_JSON');
  });

  it('does not quote the body back in a JSON syntax error', () => {
    const error = refused(parseEventsBody('{"token": "s3cr3t-value" oops}'));
    expect(error.message).not.toContain('s3cr3t');
    expect(error.message).toMatch(/position \d+/);
    expect(error.cause).toBeInstanceOf(SyntaxError);
  });
});
