import { mkdtempSync, rmSync } from 'node:fs';
import { ManualClock } from '../../test/support/clock.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { allCalls, createEngine, type EngineInput } from '../core/index.ts';
import { office } from '../core/testkit.ts';
import { SqliteStore } from '../store/index.ts';
import { EngineHost, type Committed } from './engine-host.ts';
import { Serial } from './serial.ts';

const T0 = 1_773_000_000_000;

/** A promise and the function that resolves it. */
function opened(): { promise: Promise<void>; resolve: () => void } {
  let resolve = (): void => undefined;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}
const started: EngineInput = {
  type: 'call.started',
  callId: 'c1',
  at: T0,
  direction: 'inbound',
  from: '+79161234567',
  to: '101',
};
const ringing: EngineInput = { type: 'call.ringing', callId: 'c1', at: T0 + 1000, extensions: ['101'] };

describe('the engine host', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  async function open(path?: string, maxCallSec = 0) {
    const dir = mkdtempSync(join(tmpdir(), 'b24-host-'));
    dirs.push(dir);
    const store = await SqliteStore.open({ path: path ?? join(dir, 'bridge.db') });
    const clock = new ManualClock(T0);
    const commits: Committed[] = [];
    const faults: string[] = [];
    const serial = new Serial();
    const host = await EngineHost.load({
      portalId: 'p1',
      store,
      engine: createEngine({ ...office, maxCallSec }),
      clock,
      serial,
      timerRetryMs: 1_000,
      committed: (c) => commits.push(c),
      fault: (where) => faults.push(where),
    });
    host.start();
    return { store, clock, host, commits, faults, serial };
  }

  it('commits a step with its operations, and changes the state only once it is stored', async () => {
    const { store, host, commits } = await open();
    const before = host.state;
    const r = await host.step(started, T0, 'k1');
    expect(r.duplicate).toBe(false);
    expect(host.state).not.toBe(before);
    expect(commits).toHaveLength(1);
    expect(commits[0]?.steps.map((s) => s.input.type)).toEqual(['call.started']);
    await host.step(ringing, T0 + 1000, 'k2');
    expect(commits[1]?.touchedEntries).toBe(true);
    expect((await store.openCalls('p1')).length).toBeGreaterThan(0);
    host.close();
    await store.close();
  });

  it('recognises a repeat by its dedupe key: nothing changes, the repeat is announced as such', async () => {
    const { store, host, commits } = await open();
    await host.step(started, T0, 'k1');
    const state = host.state;
    const again = await host.step(started, T0, 'k1');
    expect(again).toEqual({ duplicate: true, pbx: [] });
    expect(host.state).toBe(state);
    expect(commits.at(-1)?.duplicate).toBe(true);
    host.close();
    await store.close();
  });

  it('a step the store refuses leaves the state as it was', async () => {
    const { store, host } = await open();
    await host.step(started, T0, 'k1');
    const state = host.state;
    store.database.pragma('query_only = ON');
    await expect(host.step(ringing, T0 + 1000, 'k2')).rejects.toMatchObject({ code: 'STORE_READONLY' });
    expect(host.state).toBe(state);
    host.close();
    await store.close();
  });

  it('steps many inputs as one commit, all or nothing', async () => {
    const { store, host, commits } = await open();
    await host.stepMany([started, ringing], T0 + 1000, 'batch');
    expect(commits).toHaveLength(1);
    expect(commits[0]?.steps.map((s) => s.input.type)).toEqual(['call.started', 'call.ringing']);
    const journal = store.database.prepare('SELECT type FROM inputs').all() as { type: string }[];
    expect(journal.map((j) => j.type)).toEqual(['pbx.batch']);
    host.close();
    await store.close();
  });

  it('a step computed on an old revision is computed again over what another writer stored', async () => {
    const a = await open();
    const path = a.store.database.name;
    const b = await open(path);
    await a.host.step(started, T0, 'k1');
    // b has not seen a's step: its commit is refused as stale, it follows, and steps again.
    await b.host.step(ringing, T0 + 1000, 'k2');
    expect(allCalls(b.host.state).map((c) => c.phase)).not.toContain(undefined);
    expect(allCalls(b.host.state)).toHaveLength(1);
    await a.host.follow();
    expect(a.host.state.seq).toBe(b.host.state.seq);
    a.host.close();
    b.host.close();
    await a.store.close();
    await b.store.close();
  });

  it('group commit: steps that queue up together share one transaction, in order, repeats recognised', async () => {
    const { store, host, commits, serial } = await open();
    const groups: number[] = [];
    const commitSteps = store.commitSteps.bind(store);
    store.commitSteps = (c) => {
      groups.push(c.length);
      return commitSteps(c);
    };
    await host.accept([started], T0, 'k1');
    const inputs: EngineInput[] = [0, 1, 2, 3].map((n) => ({
      type: 'call.started',
      callId: `g${n}`,
      at: T0 + n,
      direction: 'inbound',
      from: '+79161234567',
      to: '101',
    }));
    // The serial line is busy: everything accepted meanwhile waits for one commit.
    const gate = opened();
    const busy = serial.run(() => gate.promise);
    const answers = Promise.all([
      host.accept([inputs[0]!], T0, 'g0'),
      host.accept([inputs[1]!], T0, 'g1'),
      host.accept([started], T0, 'k1'),
      host.accept([inputs[2]!], T0, 'g2'),
      host.accept([inputs[3]!], T0, 'g3'),
    ]);
    gate.resolve();
    await busy;
    expect((await answers).map((a) => a.duplicate)).toEqual([false, false, true, false, false]);
    // One transaction up to the repeat, one for what came after it.
    expect(groups).toEqual([5, 2]);
    const journal = store.database.prepare('SELECT dedupe_key AS k FROM inputs ORDER BY id').all() as {
      k: string;
    }[];
    expect(journal.map((j) => j.k)).toEqual(['k1', 'g0', 'g1', 'g2', 'g3']);
    expect(allCalls(host.state)).toHaveLength(5);
    expect(commits.map((c) => c.duplicate)).toEqual([false, false, false, true, false, false]);
    host.close();
    await store.close();
  });

  it('group commit: what arrives in one turn of the event loop shares a transaction, the line idle or not', async () => {
    const { store, host } = await open();
    const groups: number[] = [];
    const commitSteps = store.commitSteps.bind(store);
    store.commitSteps = (c) => {
      groups.push(c.length);
      return commitSteps(c);
    };
    // Nothing holds the serial line: the store writes synchronously, so a group forms only if the
    // flush waits for the rest of the turn (the requests its poll phase reads).
    const answers = await Promise.all(
      ['a', 'b', 'c'].map((id, n) =>
        host.accept([{ ...started, callId: id, at: T0 + n }], T0 + n, `s-${id}`),
      ),
    );
    expect(answers.map((a) => a.duplicate)).toEqual([false, false, false]);
    expect(groups).toEqual([3]);
    host.close();
    await store.close();
  });

  it("a delivery's answer is stored with the waiting steps; a round's own changes go first, at once", async () => {
    const { store, host, commits, serial } = await open();
    await host.step(started, T0, 'k1');
    await host.step(ringing, T0 + 1000, 'k2');
    const [entry] = await store.openCalls('p1');
    expect(entry).toBeDefined();
    const id = entry?.id ?? 0;
    const groups: number[] = [];
    const commitSteps = store.commitSteps.bind(store);
    store.commitSteps = (c) => {
      groups.push(c.length);
      return commitSteps(c);
    };
    const updates = store.updateEntries.bind(store);
    let alone = 0;
    store.updateEntries = (u, now) => {
      alone += 1;
      return updates(u, now);
    };
    const statusOf = () =>
      (store.database.prepare('SELECT status FROM outbox_entries WHERE id = ?').get(id) as { status: string })
        .status;
    const other: EngineInput = { ...started, callId: 'c2', at: T0 + 2000 };
    const before = commits.length;
    // An answer (no engine input) and a PBX step, in one turn: one transaction.
    const answered = host.record(null, [{ id, status: 'in_flight' }], T0 + 2000);
    const stepped = host.accept([other], T0 + 2000, 'k3');
    await Promise.all([answered, stepped]);
    expect(groups).toEqual([2]);
    expect(alone).toBe(0);
    expect(statusOf()).toBe('in_flight');
    // Changes to entries are news for delivery: the commit says so.
    expect(commits.slice(before).some((c) => c.steps.length === 0 && c.touchedEntries)).toBe(true);
    // From inside the line (a delivery round), with a step waiting: both in one transaction, the
    // round's first, and not announced back to delivery as news.
    const fromRound = commits.length;
    const waiting = host.accept([{ ...started, callId: 'c3', at: T0 + 3000 }], T0 + 3000, 'k4');
    await serial.run(() => host.commitNow([{ id, status: 'done' }], T0 + 3000));
    await waiting;
    expect(groups).toEqual([2, 2]);
    expect(statusOf()).toBe('done');
    expect(commits.slice(fromRound).filter((c) => c.steps.length === 0 && c.touchedEntries)).toEqual([]);
    host.close();
    await store.close();
  });

  it('a group the store refuses as a whole is stored step by step: only the bad step fails', async () => {
    const { store, host, serial } = await open();
    store.commitSteps = () => Promise.reject(new Error('the group failed'));
    const gate = opened();
    const busy = serial.run(() => gate.promise);
    const a = host.accept([started], T0, 'k1');
    const b = host.accept([ringing], T0 + 1000, 'k2');
    gate.resolve();
    await busy;
    expect((await a).duplicate).toBe(false);
    expect((await b).duplicate).toBe(false);
    expect(allCalls(host.state)).toHaveLength(1);
    host.close();
    await store.close();
  });

  it('fires the engine timers the stored calls hold, as steps, also after a restart', async () => {
    const first = await open(undefined, 60);
    await first.host.step(started, T0, 'k1');
    expect(allCalls(first.host.state).flatMap((c) => Object.keys(c.timers))).toEqual(['stale']);
    first.host.close();
    const path = first.store.database.name;
    await first.store.close();
    // A new process over the same store arms the stored call's timer again.
    const { store, clock, host, commits, serial } = await open(path, 60);
    clock.advance(60_000);
    await serial.drained();
    expect(commits.flatMap((c) => c.steps.map((s) => s.input.type))).toEqual(['timer.fired']);
    expect(allCalls(host.state).flatMap((c) => Object.keys(c.timers))).toEqual([]);
    host.close();
    await store.close();
  });
});
