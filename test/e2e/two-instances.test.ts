import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseUrl, freshSchemaName, skipMessage, sql } from '../store/pg.ts';
import {
  freePort,
  installBridge,
  pbxCall,
  sendEvents,
  startBridgeProcess,
  startEmulatorProcess,
  stop,
  tempDir,
  waitFor,
  writeBridgeConfig,
  type BridgeSetup,
  type EmulatorCall,
  type EmulatorProcess,
  type RequestLogEntry,
  type Spawned,
} from './processes.ts';

if (databaseUrl === undefined) console.warn(skipMessage);

/** The portal's limit for this test: small, so that two instances would break it without sharing. */
const limit = { rate: 2, burst: 10 };
const CALLS = 300;

/** The emulator's leaky bucket replayed over its request log: the highest level it reached. */
function peakLevel(requests: readonly { at: string }[]): { peak: number; perSecond: number } {
  let level = 0;
  let last: number | null = null;
  let peak = 0;
  const times = requests.map((r) => Date.parse(r.at)).sort((a, b) => a - b);
  for (const t of times) {
    if (last !== null) level = Math.max(0, level - ((t - last) / 1000) * limit.rate);
    last = t;
    level += 1;
    peak = Math.max(peak, level);
  }
  let perSecond = 0;
  for (let i = 0, j = 0; i < times.length; i += 1) {
    while ((times[i] ?? 0) - (times[j] ?? 0) >= 1000) j += 1;
    perSecond = Math.max(perSecond, i - j + 1);
  }
  return { peak, perSecond };
}

/**
 * Several instances: two bridge processes on one PostgreSQL database behind a (simulated) load
 * balancer take 300 calls through the PBX API, each call's events going to the two alternately (a
 * call started on one is ended on the other). Halfway one process is SIGKILLed; the PBX's requests
 * then go to the survivor, which takes over the dead one's calls when their leases expire. The
 * portal ends with exactly 300 finished calls, none twice, and its request log shows its limit
 * never exceeded although each instance alone would fill the whole bucket.
 */
describe.skipIf(databaseUrl === undefined)('two bridge instances on one PostgreSQL', () => {
  const tmp = tempDir('b24-e2e-two-');
  const schema = freshSchemaName();
  let emulator: EmulatorProcess;
  const setups: BridgeSetup[] = [];
  const bridges: (Spawned | undefined)[] = [];

  beforeAll(async () => {
    await sql(`CREATE SCHEMA ${schema}`);
    emulator = await startEmulatorProcess();
    await emulator.control('faults', { rateLimit: limit });
    const url = new URL(databaseUrl ?? '');
    url.searchParams.set('options', `-c search_path=${schema}`);
    // One application, one database; each instance listens on its own port.
    const first = writeBridgeConfig(emulator.url, tmp.dir, await freePort());
    const doc = JSON.parse(readFileSync(first.configPath, 'utf8')) as Record<string, unknown>;
    doc.store = { kind: 'postgres', url: url.toString() };
    (doc.bitrix as Record<string, unknown>).rateLimit = limit;
    // The portal posts its events to the instances (push): no queue reads share the budget.
    (doc.bitrix as Record<string, unknown>).events = 'push';
    for (const name of ['a', 'b']) {
      const port = name === 'a' ? first.port : await freePort();
      const configPath = join(tmp.dir, `bridge-${name}.json`);
      writeFileSync(configPath, JSON.stringify({ ...doc, server: { host: '127.0.0.1', port } }), {
        mode: 0o600,
      });
      setups.push({ ...first, configPath, port, url: `http://127.0.0.1:${port}` });
    }
    const [a, b] = setups as [BridgeSetup, BridgeSetup];
    bridges.push(await startBridgeProcess(a));
    await installBridge(emulator, a);
    // B starts on the database A filled: it finds the portal and its tokens there.
    bridges.push(await startBridgeProcess(b));
  });

  afterAll(async () => {
    for (const b of bridges) await stop(b);
    await stop(emulator);
    await sql(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    tmp.cleanup();
  });

  it('delivers 300 calls once each, within the portal’s limit, though one instance is killed', async () => {
    const started = performance.now();
    const base = Math.floor((Date.now() - 3600_000) / 1000) * 1000;
    const calls = Array.from({ length: CALLS }, (_, n) => pbxCall('ha', n, base + n * 10_000));
    let accepted = 0;
    let failovers = 0;
    let killedAt: number | null = null;
    let orphaned = 0;
    const alive = [true, true];

    /** The load balancer: the preferred instance, or the other when it does not answer. */
    const deliver = async (events: unknown[], prefer: number): Promise<void> => {
      const deadline = Date.now() + 30_000;
      for (let attempt = 0; ; attempt += 1) {
        const target = alive[prefer] === true ? (prefer + attempt) % 2 : 1 - prefer;
        const setup = setups[target];
        if (setup === undefined) throw new Error('no instance');
        try {
          const res = await sendEvents(setup.url, events);
          if (res.status === 202) {
            await res.body?.cancel();
            break;
          }
          expect([502, 503], await res.text()).toContain(res.status);
        } catch {
          // Refused or reset: that instance is gone; the balancer tries the other.
        }
        failovers += 1;
        if (Date.now() > deadline) throw new Error('no instance took the events within 30 s');
        await new Promise((r) => setTimeout(r, 25));
      }
      accepted += 1;
      if (accepted === CALLS && killedAt === null) {
        killedAt = performance.now();
        alive[0] = false;
        await stop(bridges[0], 'SIGKILL');
        // The calls the dead instance held with work left: the survivor must take them over.
        const rows = await sql<{ n: string }>(
          `SELECT count(*) AS n FROM outbox_calls c WHERE c.claimed_by LIKE $1 AND EXISTS (
             SELECT 1 FROM outbox_entries e WHERE e.portal_id = c.portal_id AND e.call_key = c.call_key
               AND e.status IN ('pending', 'in_flight'))`,
          [`%:${String(bridges[0]?.child.pid)}:%`],
          schema,
        );
        orphaned = Number(rows[0]?.n ?? 0);
      }
    };

    // Four PBX trunks; call n starts on one instance and ends on the other.
    const queue = [...calls];
    const trunk = async (): Promise<void> => {
      for (let call = queue.shift(); call !== undefined; call = queue.shift()) {
        const n = calls.indexOf(call);
        await deliver(call.begin, n % 2);
        await deliver(call.end, (n + 1) % 2);
      }
    };
    await Promise.all([trunk(), trunk(), trunk(), trunk()]);
    const fedAt = performance.now();

    const seen = await waitFor(
      `all ${CALLS} calls finished in the portal`,
      async () => {
        const list = await emulator.inspect<EmulatorCall[]>('calls');
        return list.length >= CALLS && list.every((c) => c.finished) ? list : undefined;
      },
      45_000,
    );
    const doneAt = performance.now();

    expect(killedAt).not.toBeNull();
    // The kill came while the dead instance still had calls to deliver (the portal's limit keeps a
    // backlog): the takeover was exercised, not only the survivor's own calls.
    expect(orphaned).toBeGreaterThan(0);
    expect(seen).toHaveLength(CALLS);
    expect(new Set(seen.map((c) => c.externalCallId)).size).toBe(CALLS);
    const byExternal = new Map(seen.map((c) => [c.externalCallId, c]));
    for (const call of calls) {
      expect(byExternal.get(call.externalCallId), call.callId).toMatchObject({
        finished: true,
        userId: call.userId,
        finishedBy: call.userId,
        duration: call.durationSec,
        statusCode: '200',
      });
    }

    const resent = Number(
      (await sql<{ n: string }>('SELECT count(*) AS n FROM outbox_entries WHERE attempts > 1', [], schema))[0]
        ?.n,
    );
    const requests = await emulator.inspect<(RequestLogEntry & { at: string })[]>('requests');
    const refusals = requests.filter(
      (r) =>
        r.error === 'QUERY_LIMIT_EXCEEDED' || r.commandErrors.some((e) => /QUERY_LIMIT_EXCEEDED/.test(e)),
    );
    expect(refusals).toEqual([]);
    const { peak, perSecond } = peakLevel(requests);
    expect(peak).toBeLessThanOrEqual(limit.burst);
    console.log(
      `e2e two instances: ${CALLS} calls, ${requests.length} portal requests, peak bucket level ` +
        `${peak.toFixed(2)} of ${limit.burst}, at most ${perSecond} requests in a second; ` +
        `${failovers} PBX failovers; ${orphaned} calls with open entries taken over from the killed ` +
        `instance; ${resent} entries sent again; feeding ${Math.round(fedAt - started)} ms, settling ` +
        `${Math.round(doneAt - fedAt)} ms after the last event`,
    );
  }, 90_000);
});
