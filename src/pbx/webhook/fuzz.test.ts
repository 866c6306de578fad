/**
 * The parsers face the network: whatever arrives, they answer a typed value or a typed error and
 * never throw. Arbitrary JSON, arbitrary bytes, and valid bodies with one thing broken.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  eventTypes,
  parseCommandAck,
  parseCommandId,
  parseEvents,
  parseEventsBody,
  parseRouteRequest,
  pbxApiErrorCodes,
  toEngineEvent,
  type Parsed,
} from './index.ts';

const SEED = 20_260_310;

function wellFormed(result: Parsed<unknown>): boolean {
  if (result.ok) return true;
  const { error } = result;
  return (
    pbxApiErrorCodes.includes(error.code) &&
    (error.path === '' || error.path.startsWith('/')) &&
    error.message.length > 0 &&
    error.problems.length >= 1 &&
    error.problems.length <= 20
  );
}

const id = fc.stringMatching(/^[0-9a-z.]{1,12}$/);
const ext = fc.constantFrom('100', '101', '102', '103', '104', '*97');
const iso = fc
  .date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2099-12-31T23:59:59Z'), noInvalidDate: true })
  .map((d) => d.toISOString());
const at = fc.option(iso, { nil: undefined });

const validEvent: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  fc.record({
    type: fc.constant('call.started'),
    callId: id,
    at,
    direction: fc.constantFrom('inbound', 'outbound'),
    from: fc.constantFrom('+79161234567', '101', ''),
    to: fc.constantFrom('+74950000001', '102'),
    line: fc.option(fc.constant('+74950000001'), { nil: undefined }),
  }),
  fc.record({
    type: fc.constantFrom('call.ringing', 'call.ring_stopped'),
    callId: id,
    at,
    extensions: fc.array(ext),
  }),
  fc.record({ type: fc.constant('call.answered'), callId: id, at, extension: ext }),
  fc.record({ type: fc.constant('call.transferred'), callId: id, at, to: ext }),
  fc.record({
    type: fc.constant('call.ended'),
    callId: id,
    at,
    reason: fc.option(fc.constantFrom('completed', 'no_answer', 'busy', 'failed', 'cancelled'), {
      nil: undefined,
    }),
  }),
  fc.record({ type: fc.constant('recording.ready'), callId: id, at, url: fc.webUrl() }),
  fc.record({
    type: fc.constant('recording.ready'),
    callId: id,
    at,
    contentBase64: fc
      .uint8Array({ minLength: 1, maxLength: 64 })
      .map((b) => Buffer.from(b).toString('base64')),
  }),
);

/** One thing broken: a field dropped, replaced by any JSON, or the type swapped. */
const mutated = fc
  .tuple(validEvent, fc.nat(), fc.jsonValue(), fc.constantFrom('drop', 'replace', 'retype', 'add'))
  .map(([event, n, value, how]) => {
    const copy: Record<string, unknown> = { ...event };
    const keys = Object.keys(copy);
    const key = keys[n % keys.length] ?? 'type';
    if (how === 'drop') Reflect.deleteProperty(copy, key);
    else if (how === 'replace') copy[key] = value;
    else if (how === 'retype') copy.type = eventTypes[n % eventTypes.length];
    else copy[`x${n}`] = value;
    return copy;
  });

const body = (event: fc.Arbitrary<unknown>) =>
  fc.oneof(
    event,
    fc.array(event, { maxLength: 5 }),
    fc.tuple(validEvent, event).map(([a, b]) => [a, b]),
  );

describe('PBX API parsers under fuzzing', () => {
  it('never throw, on 20,000+ arbitrary and mutated bodies', () => {
    const started = performance.now();
    let runs = 0;
    let accepted = 0;
    const check = (result: Parsed<unknown>) => {
      runs++;
      if (result.ok) accepted++;
      return wellFormed(result);
    };
    fc.assert(
      fc.property(fc.jsonValue(), (value) => check(parseEvents(value))),
      { numRuns: 6000, seed: SEED },
    );
    fc.assert(
      fc.property(body(mutated), (value) => {
        const result = parseEvents(value);
        // Whatever is accepted converts to engine inputs without a throw and with a real time.
        if (result.ok)
          for (const event of result.value) {
            const input = toEngineEvent(event, 0);
            if (!Number.isFinite(input.at)) return false;
          }
        return check(result);
      }),
      { numRuns: 8000, seed: SEED },
    );
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.uint8Array({ maxLength: 200 }), fc.json()), (raw) =>
        check(parseEventsBody(raw)),
      ),
      { numRuns: 3000, seed: SEED },
    );
    fc.assert(
      fc.property(fc.jsonValue(), fc.anything(), (value, anything) => {
        return (
          check(parseRouteRequest(value)) &&
          check(parseCommandAck(value)) &&
          check(parseCommandId(anything)) &&
          check(parseEvents(anything))
        );
      }),
      { numRuns: 3000, seed: SEED },
    );
    const seconds = (performance.now() - started) / 1000;
    console.log(`fuzz: ${runs} parses (${accepted} accepted) in ${seconds.toFixed(2)} s`);
    expect(runs).toBeGreaterThanOrEqual(20_000);
  });

  it('accept every valid body the generator makes', () => {
    fc.assert(
      fc.property(body(validEvent), (value) => parseEvents(value).ok),
      { numRuns: 2000, seed: SEED },
    );
  });
});
