/**
 * Random interleavings of several calls at once: PBX events delivered in order, out of order,
 * twice or never; Bitrix results and timers fired whenever the schedule says. A host loop plays
 * the part of the outbox and the timer wheel; a ledger replays what Bitrix24 would believe.
 *
 * `npm test` runs them with a pinned seed, so a run that fails fails again for whoever looks;
 * `npm run test:properties` draws new seeds and runs longer (PROPERTY_SEED and PROPERTY_RUNS pick
 * one seed, or how many runs). A failure prints its seed: add what it found to the scenario table.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { EngineConfig } from './config.ts';
import type { Effect } from './effects.ts';
import { createEngine, type Engine } from './engine.ts';
import type { EndReason, EngineInput, KnownCaller } from './inputs.ts';
import { CardLedger } from './ledger.ts';
import { allCalls, getCall, type EngineState } from './state.ts';
import { LINES, office, T0 } from './testkit.ts';

const EXTENSIONS = ['100', '101', '102', '103', '104'];
const KNOWN = '+79161234567';
const userOf = new Map(office.directory.map((d) => [d.extension, d.userId]));

type Template =
  | {
      type: 'call.started';
      direction: 'inbound' | 'outbound';
      from: string;
      to: string;
      line?: string;
      caller?: KnownCaller;
    }
  | { type: 'route.requested'; from: string; to: string; caller?: KnownCaller }
  | { type: 'call.ringing' | 'call.ring_stopped'; extensions: string[] }
  | { type: 'call.answered'; extension: string }
  | { type: 'call.transferred'; to: string }
  | { type: 'call.ended'; reason?: EndReason }
  | { type: 'recording.ready'; url: string };

interface Script {
  /** Known from the start for PBX calls; for originated calls, from the `pbx.originate` effect. */
  callId: string | null;
  request: EngineInput | null;
  events: Template[];
}

const ext = fc.constantFrom(...EXTENSIONS);
const reason = fc.option(
  fc.constantFrom<EndReason>('completed', 'no_answer', 'busy', 'failed', 'cancelled'),
  {
    nil: undefined,
  },
);
/** After the answer, another phone rings for the call (an attended transfer) and is answered or not. */
const consultation = fc.option(fc.record({ extension: ext, answered: fc.boolean() }), { nil: undefined });
const lifecycle = fc.record({
  rings: fc.array(fc.uniqueArray(ext, { minLength: 1, maxLength: 4 }), { maxLength: 3 }),
  answer: fc.option(ext, { nil: undefined }),
  consult: consultation,
  transfer: fc.option(fc.oneof(ext, fc.constant('+79990009999')), { nil: undefined }),
  recording: fc.constantFrom('before', 'after', 'none'),
  reason,
});
const timeman = fc.constantFrom<string | null>('OPENED', 'OPENED', 'CLOSED', 'PAUSED', 'EXPIRED', null);
/** What the host's CRM phone index may know of the known caller: their manager, maybe off work. */
const knownToIndex = fc.option(
  fc.record({
    crmEntityType: fc.constant('CONTACT'),
    crmEntityId: fc.constant(1),
    userId: fc.constantFrom(3, 3, 2, 4, 6),
    timemanStatus: timeman,
  }),
  { nil: undefined },
);

const inboundCall = fc.record({
  kind: fc.constant('inbound' as const),
  // Weighted towards the known caller on the sales line: the responsible-manager paths are the longest.
  from: fc.constantFrom(KNOWN, KNOWN, KNOWN, '+79990001111', '+79990002222', '103'),
  to: fc.constantFrom(
    LINES.sales,
    LINES.sales,
    LINES.sales,
    LINES.support,
    LINES.hotline,
    '8800',
    '101',
    '102',
  ),
  route: fc.boolean(),
  index: knownToIndex,
  life: lifecycle,
});
/** S3 at its longest: a known caller on the sales line, few phones ringing before the manager is known. */
const knownCaller = fc.record({
  kind: fc.constant('inbound' as const),
  from: fc.constant(KNOWN),
  to: fc.constant(LINES.sales),
  route: fc.boolean(),
  index: knownToIndex,
  life: fc.record({
    rings: fc.array(fc.uniqueArray(fc.constantFrom('101', '102', '103'), { minLength: 1, maxLength: 3 }), {
      maxLength: 1,
    }),
    answer: fc.option(fc.constantFrom('101', '102', '103'), { nil: undefined, freq: 2 }),
    consult: fc.constant(undefined),
    transfer: fc.constant(undefined),
    recording: fc.constantFrom('before', 'after', 'none'),
    reason,
  }),
});
const outboundCall = fc.record({
  kind: fc.constant('outbound' as const),
  from: ext,
  to: fc.constantFrom('+79990003333', KNOWN, '102'),
  life: lifecycle,
});
const clickToCall = fc.record({
  kind: fc.constant('click_to_call' as const),
  userId: fc.constantFrom(1, 2, 3, 4, 6),
  starts: fc.boolean(),
  life: lifecycle,
});
const callbackCall = fc.record({
  kind: fc.constant('callback' as const),
  line: fc.constantFrom(LINES.sales, LINES.support, LINES.hotline),
  starts: fc.boolean(),
  life: lifecycle,
});
const callSpec = fc.oneof(
  { arbitrary: inboundCall, weight: 3 },
  { arbitrary: knownCaller, weight: 3 },
  { arbitrary: outboundCall, weight: 1 },
  { arbitrary: clickToCall, weight: 1 },
  { arbitrary: callbackCall, weight: 1 },
);
type CallSpec = typeof callSpec extends fc.Arbitrary<infer T> ? T : never;

function lifeEvents(life: CallSpec['life'], id: string): Template[] {
  const events: Template[] = [];
  life.rings.forEach((round, i) => {
    events.push({ type: 'call.ringing', extensions: round });
    const last = i === life.rings.length - 1;
    if (!last || life.answer === undefined) events.push({ type: 'call.ring_stopped', extensions: round });
  });
  if (life.answer !== undefined) {
    events.push({ type: 'call.answered', extension: life.answer });
    if (life.consult !== undefined) {
      const { extension, answered } = life.consult;
      events.push({ type: 'call.ringing', extensions: [extension] });
      events.push(
        answered
          ? { type: 'call.answered', extension }
          : { type: 'call.ring_stopped', extensions: [extension] },
      );
    }
    if (life.transfer !== undefined) events.push({ type: 'call.transferred', to: life.transfer });
  }
  const recording: Template = { type: 'recording.ready', url: `https://pbx.example/rec/${id}.mp3` };
  if (life.recording === 'before') events.push(recording);
  events.push({ type: 'call.ended', ...(life.reason === undefined ? {} : { reason: life.reason }) });
  if (life.recording === 'after') events.push(recording);
  return events;
}

function scriptOf(spec: CallSpec, i: number): Script {
  const id = `p${i}`;
  switch (spec.kind) {
    case 'inbound': {
      // The host adds what its index knows, on the start and on the route request alike.
      const caller = spec.from === KNOWN && spec.index !== undefined ? { caller: spec.index } : {};
      const started: Template = {
        type: 'call.started',
        direction: 'inbound',
        from: spec.from,
        to: spec.to,
        ...caller,
      };
      const route: Template[] = spec.route
        ? [{ type: 'route.requested', from: spec.from, to: spec.to, ...caller }]
        : [];
      return { callId: id, request: null, events: [started, ...route, ...lifeEvents(spec.life, id)] };
    }
    case 'outbound': {
      const started: Template = { type: 'call.started', direction: 'outbound', from: spec.from, to: spec.to };
      return { callId: id, request: null, events: [started, ...lifeEvents(spec.life, id)] };
    }
    case 'click_to_call': {
      const request: EngineInput = {
        type: 'click_to_call.requested',
        bitrixCallId: `externalCall.${i}`,
        userId: spec.userId,
        phoneNumber: '+79031112233',
        callListId: i,
        lineNumber: null,
      };
      const from = office.directory.find((d) => d.userId === spec.userId)?.extension ?? '109';
      const started: Template = { type: 'call.started', direction: 'outbound', from, to: '+79031112233' };
      return { callId: null, request, events: spec.starts ? [started, ...lifeEvents(spec.life, id)] : [] };
    }
    case 'callback': {
      const request: EngineInput = {
        type: 'callback.requested',
        phoneNumber: '+79990004444',
        lineNumber: spec.line,
      };
      const started: Template = {
        type: 'call.started',
        direction: 'outbound',
        from: '101',
        to: '+79990004444',
      };
      return { callId: null, request, events: spec.starts ? [started, ...lifeEvents(spec.life, id)] : [] };
    }
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

const roundTrip = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

/** The host: outbox replies, timer wheel, clock; checks the invariants after every step. */
class Host {
  now = T0;
  state: EngineState;
  readonly ledger = new CardLedger();
  readonly timers = new Map<string, number>();
  readonly firedTimers: string[] = [];
  readonly replies: EngineInput[] = [];
  readonly delivered: EngineInput[] = [];
  readonly keys = new Set<string>();
  readonly internal = new Set<string>();
  steps = 0;

  constructor(
    private readonly engine: Engine,
    readonly scripts: Script[],
  ) {
    this.state = engine.initialState();
  }

  step(input: EngineInput): Effect[] {
    this.steps += 1;
    const before = deepFreeze(this.state);
    const copy = roundTrip(before);
    const result = this.engine.step(before, input, this.now);
    // The same input on the state read back from JSON gives the very same answer.
    expect(this.engine.step(copy, input, this.now)).toStrictEqual(result);
    expect(roundTrip(result.state)).toStrictEqual(result.state);
    if (input.type === 'click_to_call.requested') {
      const call = getCall(result.state, `c2c.${input.bitrixCallId}`);
      if (call && getCall(before, call.pbxCallId) === null)
        this.ledger.portalRegistered(call.key, input.userId);
    }
    this.ledger.apply(result.effects);
    for (const effect of result.effects) this.react(effect);
    this.state = result.state;
    this.check();
    return result.effects;
  }

  private react(effect: Effect): void {
    switch (effect.type) {
      case 'timer.start':
        this.timers.set(effect.timerId, effect.at);
        return;
      case 'timer.cancel':
        this.timers.delete(effect.timerId);
        return;
      case 'bitrix.register': {
        const known = effect.phoneNumber === KNOWN;
        this.replies.push({
          type: 'bitrix.registered',
          callKey: effect.callKey,
          bitrixCallId: `B.${effect.callKey}`,
          crmEntityType: known ? 'CONTACT' : effect.crmCreate ? 'LEAD' : '',
          crmEntityId: known ? 1 : effect.crmCreate ? 500 : null,
          createdLead: !known && effect.crmCreate,
        });
        return;
      }
      case 'bitrix.findResponsible':
        // Resolved when delivered: who it is, and whether at work, is part of the schedule.
        this.replies.push({ type: 'bitrix.responsible', callKey: effect.callKey, userId: -1 });
        return;
      case 'pbx.originate':
        // The PBX reports an originated call under the id the engine gave it.
        if (this.requesting?.callId === null) this.requesting.callId = effect.callId;
        return;
      default:
        return;
    }
  }

  private requesting: Script | null = null;

  private check(): void {
    expect(this.ledger.violations).toEqual([]);
    for (const call of allCalls(this.state)) {
      // The end of a call whose start has not come (yet) is no call: nothing to log or show.
      if (call.tombstone === true) {
        expect(this.ledger.holders(call.key)).toEqual([]);
        continue;
      }
      this.keys.add(call.key);
      if (call.internal) this.internal.add(call.key);
      const holders = this.ledger.holders(call.key);
      if (call.phase === 'done' || call.internal) expect(holders, `${call.key} is over`).toEqual([]);
      if (call.phase === 'live' && call.answeredAt === null && call.direction === 'inbound') {
        // Before an answer the card is up exactly for the phones that ring.
        const ringing = Object.entries(call.legs)
          .filter(([, leg]) => leg === 'ringing')
          .map(([e]) => userOf.get(e));
        for (const user of holders) expect(ringing, `${call.key}: ${user} holds a card`).toContain(user);
      }
      if (call.phase === 'wrapping' && holders.length > 0) {
        // After the hang-up only the grace keeps the card up, for the user it is logged to.
        expect(holders).toEqual([call.finishUserId]);
        expect(this.timers.has(`${call.key}#grace`), `${call.key} card up after the grace`).toBe(true);
      }
      if (call.phase === 'live' && call.answeredAt !== null) {
        // After an answer the card is up for the user on the phone, and for the phones that ring
        // for the call since (a transfer's target): never for a phone that does neither, and for
        // at most one phone that does not ring.
        const ofLegs = (state: string) =>
          Object.entries(call.legs)
            .filter(([, leg]) => leg === state)
            .map(([e]) => userOf.get(e));
        const ringing = ofLegs('ringing');
        for (const user of holders) expect([...ofLegs('talking'), ...ringing]).toContain(user);
        expect(
          holders.filter((u) => !ringing.includes(u)).length,
          `${call.key} holders ${holders.join(',')}`,
        ).toBeLessThanOrEqual(1);
      }
    }
  }

  deliver(script: Script, index = 0): void {
    const callId = script.callId;
    const template = script.events[index];
    if (callId === null || template === undefined) return;
    script.events.splice(index, 1);
    const input = (
      template.type === 'route.requested' ? { ...template, callId } : { ...template, callId, at: this.now }
    ) as EngineInput;
    this.delivered.push(input);
    this.step(input);
  }

  request(script: Script): void {
    const request = script.request;
    if (request === null) return;
    script.request = null;
    this.requesting = script;
    this.step(request);
    this.requesting = null;
    this.delivered.push(request);
  }

  reply(index: number, choice: number): void {
    const [reply] = this.replies.splice(index, 1);
    if (reply === undefined) return;
    if (reply.type === 'bitrix.responsible') {
      const userId = [3, 2, 4, 6, null][choice % 5] ?? null;
      const timemanStatus = [null, 'OPENED', 'CLOSED', 'PAUSED'][(choice >> 3) % 4] ?? null;
      this.step({ ...reply, userId, timemanStatus });
    } else this.step(reply);
  }

  fire(timerId: string): void {
    const due = this.timers.get(timerId);
    if (due === undefined) return;
    this.timers.delete(timerId);
    this.firedTimers.push(timerId);
    this.now = Math.max(this.now, due);
    this.step({ type: 'timer.fired', timerId });
  }
}

type Action = () => void;

function actions(host: Host, choice: number): Action[] {
  const list: Action[] = [];
  for (const script of host.scripts) {
    if (script.request !== null) list.push(() => host.request(script));
    if (script.callId !== null && script.events.length > 0) {
      list.push(
        () => host.deliver(script),
        () => host.deliver(script),
      );
      // Out of order: the one after the next overtakes it; or the next is lost.
      if (script.events.length > 1) list.push(() => host.deliver(script, 1));
      if (choice % 7 === 0) list.push(() => script.events.shift());
    }
  }
  // Bitrix answers quickly as a rule: its replies get more chances than the others.
  host.replies.forEach((_, i) =>
    list.push(
      () => host.reply(i, choice),
      () => host.reply(i, choice),
    ),
  );
  for (const id of host.timers.keys()) list.push(() => host.fire(id));
  const old = host.delivered[choice % Math.max(1, host.delivered.length)];
  if (old !== undefined) list.push(() => host.step(old));
  const stale = host.firedTimers[choice % Math.max(1, host.firedTimers.length)];
  if (stale !== undefined) list.push(() => host.step({ type: 'timer.fired', timerId: stale }));
  list.push(() => (host.now += 1000 * (1 + (choice % 7))));
  return list;
}

function drain(host: Host): void {
  for (let guard = 0; guard < 500; guard += 1) {
    const script = host.scripts.find((s) => s.request !== null || (s.callId !== null && s.events.length > 0));
    if (script) {
      if (script.request !== null) host.request(script);
      else host.deliver(script);
      continue;
    }
    if (host.replies.length > 0) {
      host.reply(0, guard);
      continue;
    }
    const next = [...host.timers].sort((a, b) => a[1] - b[1])[0];
    if (next === undefined) return;
    host.fire(next[0]);
  }
  throw new Error('the engine never settled');
}

/**
 * The seed CI runs with, unless PROPERTY_SEED says another (or "random"). It is the one that found a
 * card left up on a transfer target that stopped ringing (see the scenario table).
 */
const PINNED_SEED = 1204922682;
const seedSetting = process.env.PROPERTY_SEED ?? String(PINNED_SEED);
const propertyRuns: fc.Parameters<unknown> = {
  numRuns: Number(process.env.PROPERTY_RUNS ?? 200),
  ...(seedSetting === 'random' ? {} : { seed: Number(seedSetting) }),
};

const propertyConfig: EngineConfig = { ...office, maxCallSec: 3600, retainSec: 86_400 };
const variants: [string, EngineConfig][] = [
  ['grace 5 s, hunting fallback', propertyConfig],
  [
    'no grace, queue number fallback',
    {
      ...propertyConfig,
      recording: { maxWaitSec: 30, hideGraceSec: 0 },
      lines: propertyConfig.lines.map((l) =>
        l.routing.kind === 'responsible'
          ? { ...l, routing: { ...l.routing, then: { ...l.routing.then, extension: '600' } } }
          : l,
      ),
    },
  ],
  ['no recording wait', { ...propertyConfig, recording: { maxWaitSec: 0, hideGraceSec: 5 } }],
];

describe.each(variants)('call engine properties (%s)', (_name, config) => {
  const engine = createEngine(config);

  it('cards never outlive their calls, and every call is finished exactly once', () => {
    fc.assert(
      fc.property(
        fc.array(callSpec, { minLength: 1, maxLength: 4 }),
        fc.array(fc.nat({ max: 10_000 }), { minLength: 10, maxLength: 150 }),
        (specs, schedule) => {
          const host = new Host(engine, specs.map(scriptOf));
          for (const choice of schedule) {
            const list = actions(host, choice);
            list[choice % list.length]?.();
          }
          drain(host);

          expect(host.ledger.cardsUp(), 'no card stays up after its call').toEqual([]);
          expect(host.timers.size).toBe(0);
          for (const call of allCalls(host.state)) expect(call.phase).toBe('done');
          // Every call the engine took on is logged exactly once (internal calls never are).
          for (const key of host.keys)
            expect(host.ledger.finishes(key), key).toBe(host.internal.has(key) ? 0 : 1);
          for (const key of host.ledger.callKeys()) expect(host.keys.has(key), key).toBe(true);
        },
      ),
      propertyRuns,
    );
  });
});
