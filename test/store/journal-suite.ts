/**
 * The call journal's storage: every assertion holds for SQLite and PostgreSQL alike
 * (`sqlite.test.ts` and `postgres.test.ts` run it on a fresh database each).
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  journalOf,
  type CallSummary,
  type JournalEntry,
  type JournalStore,
} from '../../src/journal/index.ts';
import type { Store } from '../../src/store/index.ts';

export interface JournalHarness {
  fresh(): Promise<Store>;
  cleanup(): Promise<void>;
}

export const summary = (callKey: string, over: Partial<CallSummary> = {}): CallSummary => ({
  portalId: 'p1',
  callKey,
  pbxCallId: callKey.split('@')[0] ?? callKey,
  direction: 'inbound',
  phoneNumber: '+79161234567',
  calledNumber: '+74950000000',
  lineId: 'sales',
  userId: null,
  startedAt: 1_000,
  answeredAt: null,
  endedAt: null,
  outcome: 'live',
  endReason: null,
  cardLatencyMs: null,
  crmEntityType: null,
  crmEntityId: null,
  activityId: null,
  recording: null,
  updatedAt: 1_000,
  ...over,
});

const entry = (callKey: string, at: number, over: Partial<JournalEntry> = {}): JournalEntry => ({
  portalId: 'p1',
  callKey,
  at,
  recordedAt: at + 5,
  kind: 'pbx',
  summary: `event at ${String(at)}`,
  detail: { at, extensions: ['101'] },
  ...over,
});

export function journalSuite(name: string, h: JournalHarness): void {
  describe(`the call journal (${name})`, () => {
    let store: Store | undefined;
    const open = async (): Promise<JournalStore> => {
      store = await h.fresh();
      const journal = journalOf(store);
      if (!journal) throw new Error('no journal on this store');
      return journal;
    };
    afterEach(async () => {
      await store?.close();
      store = undefined;
      await h.cleanup();
    });

    it('keeps a call and its timeline in order, with its own times and the arrival times', async () => {
      const journal = await open();
      await journal.write(
        [entry('c1@1000', 1000), entry('c1@1000', 900, { kind: 'route', summary: 'plan: 101 for 20 s' })],
        [summary('c1@1000')],
      );
      await journal.write(
        [entry('c1@1000', 2000, { kind: 'card', detail: { latencyMs: 340 } })],
        [summary('c1@1000', { outcome: 'answered', answeredAt: 1500, userId: 7, cardLatencyMs: 340 })],
      );
      const call = await journal.call('c1@1000');
      expect(call?.summary).toEqual(
        summary('c1@1000', { outcome: 'answered', answeredAt: 1500, userId: 7, cardLatencyMs: 340 }),
      );
      expect(call?.entries.map((e) => [e.kind, e.at, e.recordedAt, e.summary, e.detail])).toEqual([
        ['pbx', 1000, 1005, 'event at 1000', { at: 1000, extensions: ['101'] }],
        ['route', 900, 905, 'plan: 101 for 20 s', { at: 900, extensions: ['101'] }],
        ['card', 2000, 2005, 'event at 2000', { latencyMs: 340 }],
      ]);
      expect(await journal.call('nope@1')).toBeUndefined();
    });

    it('keeps what a later summary does not know (the CRM activity, the recording, the card latency)', async () => {
      const journal = await open();
      await journal.write(
        [],
        [summary('c1@1', { activityId: '55', recording: 'https://pbx/r.mp3', cardLatencyMs: 80 })],
      );
      await journal.write(
        [],
        [summary('c1@1', { outcome: 'missed', endedAt: 9000, endReason: 'no_answer' })],
      );
      expect((await journal.call('c1@1'))?.summary).toMatchObject({
        outcome: 'missed',
        endedAt: 9000,
        endReason: 'no_answer',
        activityId: '55',
        recording: 'https://pbx/r.mp3',
        cardLatencyMs: 80,
      });
    });

    it('finds calls by number, user, line, time and outcome, the latest first', async () => {
      const journal = await open();
      await journal.write(
        [],
        [
          summary('a@1', { startedAt: 1_000, phoneNumber: '+7 916 555-01-01', userId: 1, lineId: 'sales' }),
          summary('b@2', {
            startedAt: 2_000,
            phoneNumber: '+79160000002',
            userId: 2,
            lineId: 'support',
            outcome: 'missed',
          }),
          summary('c@3', {
            startedAt: 3_000,
            phoneNumber: '+79160000003',
            calledNumber: '555%',
            userId: 1,
            lineId: 'sales',
          }),
        ],
      );
      const keys = async (q: Parameters<JournalStore['search']>[0]) =>
        (await journal.search(q)).map((c) => c.callKey);
      expect(await keys({})).toEqual(['c@3', 'b@2', 'a@1']);
      expect(await keys({ number: '555' })).toEqual(['c@3', 'a@1']);
      // A % in the search is a character, not a wildcard.
      expect(await keys({ number: '5%' })).toEqual(['c@3']);
      expect(await keys({ number: '0000002' })).toEqual(['b@2']);
      expect(await keys({ userId: 1 })).toEqual(['c@3', 'a@1']);
      expect(await keys({ lineId: 'support' })).toEqual(['b@2']);
      expect(await keys({ from: 2_000, to: 3_000 })).toEqual(['b@2']);
      expect(await keys({ outcome: 'missed' })).toEqual(['b@2']);
      expect(await keys({ lineId: 'sales', userId: 1, limit: 1 })).toEqual(['c@3']);
    });

    it('counts calls per hour and outcome, card latencies and answer rates per line', async () => {
      const journal = await open();
      const h = 3_600_000;
      await journal.write(
        [],
        [
          summary('a@1', {
            startedAt: 10 * h + 1,
            outcome: 'answered',
            answeredAt: 10 * h + 4001,
            cardLatencyMs: 300,
          }),
          summary('b@2', { startedAt: 10 * h + 2, outcome: 'missed', cardLatencyMs: 100 }),
          summary('c@3', {
            startedAt: 11 * h,
            outcome: 'answered',
            answeredAt: 11 * h + 2000,
            lineId: 'support',
            cardLatencyMs: 420,
          }),
          summary('d@4', { startedAt: 11 * h + 5, outcome: 'live', lineId: 'support' }),
          summary('old@0', { startedAt: 1, outcome: 'busy' }),
        ],
      );
      const stats = await journal.stats(10 * h);
      expect(stats.hours).toEqual([
        { hour: 10, outcome: 'answered', calls: 1 },
        { hour: 10, outcome: 'missed', calls: 1 },
        { hour: 11, outcome: 'answered', calls: 1 },
        { hour: 11, outcome: 'live', calls: 1 },
      ]);
      expect(stats.latency).toEqual([
        { step: 0, calls: 1 },
        { step: 1, calls: 2 },
      ]);
      expect(stats.lines).toEqual([
        { lineId: 'sales', calls: 2, answered: 1, meanWaitMs: 4000 },
        { lineId: 'support', calls: 1, answered: 1, meanWaitMs: 2000 },
      ]);
    });

    it('forgets calls and entries past the retention', async () => {
      const journal = await open();
      await journal.write(
        [entry('old@1', 1_000), entry('new@5', 5_000)],
        [summary('old@1', { startedAt: 1_000 }), summary('new@5', { startedAt: 5_000 })],
      );
      expect(await journal.prune(3_000)).toBe(1);
      expect(await journal.call('old@1')).toBeUndefined();
      expect((await journal.call('new@5'))?.entries).toHaveLength(1);
      expect(await journal.prune(3_000)).toBe(0);
    });

    it('keeps the same key apart on two portals', async () => {
      const journal = await open();
      await journal.write(
        [entry('k@1', 1), entry('k@1', 2, { portalId: 'p2' })],
        [summary('k@1'), summary('k@1', { portalId: 'p2', startedAt: 2_000 })],
      );
      expect((await journal.call('k@1'))?.summary.portalId).toBe('p2');
      expect((await journal.call('k@1', 'p1'))?.entries.map((e) => e.at)).toEqual([1]);
    });

    it('refuses to work on a closed store with a stable code', async () => {
      const journal = await open();
      await store?.close();
      const error = await journal.search({}).then(
        () => null,
        (e: unknown) => e,
      );
      expect((error as { code?: string } | null)?.code).toMatch(/^STORE_/);
      store = undefined;
    });
  });
}
