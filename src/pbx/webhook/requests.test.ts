import { describe, expect, it } from 'vitest';
import { commandOf } from '../commands.ts';
import {
  authenticatePbx,
  commandSchema,
  parseCommandAck,
  parseCommandId,
  parseCommandsQuery,
  parseRouteBody,
  parseRouteRequest,
  routeResponse,
  routeResponseSchema,
  wireCommand,
} from './index.ts';

describe('POST /pbx/v1/route', () => {
  it('parses a request into the engine input', () => {
    expect(parseRouteRequest({ callId: 'c1', from: '+7916', to: '+74950000001', line: null })).toEqual({
      ok: true,
      value: { type: 'route.requested', callId: 'c1', from: '+7916', to: '+74950000001' },
    });
    expect(parseRouteBody('{"callId":"c1","from":"1","to":"2","line":"L"}')).toMatchObject({
      ok: true,
      value: { line: 'L' },
    });
  });

  it('refuses with codes and paths', () => {
    const missing = parseRouteRequest({ callId: 'c1', from: '+7916' });
    expect(missing.ok ? null : [missing.error.code, missing.error.path]).toEqual(['MISSING_FIELD', '/to']);
    const root = parseRouteRequest([]);
    expect(root.ok ? null : root.error.code).toBe('INVALID_BODY');
    const json = parseRouteBody('{');
    expect(json.ok ? null : json.error.code).toBe('MALFORMED_JSON');
  });

  it('answers the plan in the API shape', () => {
    const response = routeResponse([
      { extensions: ['101'], timeoutSec: 5 },
      { extensions: ['102'], timeoutSec: 5 },
    ]);
    expect(response).toEqual({
      plan: [
        { extensions: ['101'], timeoutSec: 5 },
        { extensions: ['102'], timeoutSec: 5 },
      ],
    });
    expect(routeResponseSchema.safeParse(response).success).toBe(true);
  });
});

describe('commands', () => {
  it('maps engine effects to wire commands the schema accepts', () => {
    const transfer = commandOf({
      type: 'pbx.transfer',
      commandId: 'k:1',
      callKey: 'k',
      callId: 'c1',
      extension: '102',
    });
    const originate = commandOf({
      type: 'pbx.originate',
      commandId: 'k:2',
      callKey: 'k',
      callId: 'c2',
      extension: '101',
      number: '+7916',
    });
    expect(transfer).toEqual({ commandId: 'k:1', type: 'transfer', callId: 'c1', extension: '102' });
    expect(originate).toEqual({
      commandId: 'k:2',
      type: 'originate',
      callId: 'c2',
      extension: '101',
      number: '+7916',
    });
    expect(commandSchema.safeParse(wireCommand(transfer)).success).toBe(true);
    expect(commandSchema.safeParse(wireCommand(originate)).success).toBe(true);
  });

  it('validates the ack path parameter and body', () => {
    expect(parseCommandId('1773130000.42@1773130000000:7')).toEqual({
      ok: true,
      value: '1773130000.42@1773130000000:7',
    });
    const empty = parseCommandId('');
    expect(empty.ok ? null : [empty.error.code, empty.error.path, empty.error.location]).toEqual([
      'INVALID_VALUE',
      '/commandId',
      'path',
    ]);
    const long = parseCommandId('x'.repeat(301));
    expect(long.ok ? null : long.error.code).toBe('INVALID_VALUE');
    expect(parseCommandAck(undefined)).toEqual({ ok: true, value: { status: 'done' } });
    expect(parseCommandAck({ status: 'failed', reason: 'offline' })).toEqual({
      ok: true,
      value: { status: 'failed', reason: 'offline' },
    });
    const bad = parseCommandAck({ status: 'maybe' });
    expect(bad.ok ? null : [bad.error.code, bad.error.path]).toEqual(['INVALID_VALUE', '/status']);
  });

  it('validates the long-poll query', () => {
    expect(parseCommandsQuery({})).toEqual({ ok: true, value: { waitSec: 25, limit: 50 } });
    expect(parseCommandsQuery({ wait: '0', limit: '5' })).toEqual({
      ok: true,
      value: { waitSec: 0, limit: 5 },
    });
    const bad = parseCommandsQuery({ wait: '600' });
    expect(bad.ok ? null : [bad.error.code, bad.error.path, bad.error.location]).toEqual([
      'INVALID_VALUE',
      '/wait',
      'query',
    ]);
  });
});

describe('the bearer token', () => {
  const pbxes = [
    { id: 'office', token: 'office-token-1' },
    { id: 'cloud', token: 'cloud-token-22' },
  ];

  it('names the PBX whose token it is', () => {
    expect(authenticatePbx('Bearer cloud-token-22', pbxes)).toEqual({ ok: true, value: 'cloud' });
    expect(authenticatePbx('bearer office-token-1', pbxes)).toEqual({ ok: true, value: 'office' });
  });

  it('refuses a missing or wrong token without quoting it', () => {
    for (const header of [undefined, '', 'Basic abc', 'Bearer wrong-token-zz', 'Bearer office-token-1x']) {
      const result = authenticatePbx(header, pbxes);
      expect(result.ok).toBe(false);
      if (!result.ok) {
        expect(result.error.code).toBe('UNAUTHORIZED');
        expect(result.error.status).toBe(401);
        expect(result.error.message).not.toContain('token-');
      }
    }
  });
});
