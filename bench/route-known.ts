/**
 * The route answer for a known caller, from the CRM phone index, with the portal 400 ms late (as
 * real ones are): the time from `POST /pbx/v1/route` leaving the PBX to its plan coming back,
 * measured by the PBX (the bench), for calls whose `call.started` the bridge has just accepted.
 * The index learns the clients first from CRM change events (the portal's ONCRMCONTACTUPDATE), as
 * it would over a working day; the portal's rate limit is off so that learning takes seconds.
 */
import BetterSqlite3 from 'better-sqlite3';
import {
  agentExtension,
  BENCH_WEBHOOK_SECRET,
  CLIENTS,
  clientContactId,
  clientManager,
  clientPhone,
  PBX_TOKEN,
  SALES_LINE,
} from './office.ts';
import { callEvents, Pbx } from './pbx.ts';
import type { Target } from './targets.ts';
import { percentile, sleep } from './util.ts';

export interface RouteKnownResult {
  p50Ms: number;
  p99Ms: number;
  samples: number;
  /** Plans that did not put the caller's manager first (0 unless something is wrong). */
  notManagerFirst: number;
  latencyMs: number;
}

function indexed(sqlitePath: string): number {
  const db = new BetterSqlite3(sqlitePath, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM crm_phone_index').get() as { n: number }).n;
  } catch {
    return 0;
  } finally {
    db.close();
  }
}

async function route(url: string, body: unknown): Promise<{ ms: number; first: string[] }> {
  const started = performance.now();
  const res = await fetch(`${url}/pbx/v1/route`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${PBX_TOKEN}` },
    body: JSON.stringify(body),
  });
  const answer = (await res.json()) as { plan?: { extensions: string[] }[] };
  return { ms: performance.now() - started, first: answer.plan?.[0]?.extensions ?? [] };
}

export async function routeKnownCaller(
  target: Target,
  options: { latencyMs: number; callsPerSec: number; seconds: number },
): Promise<RouteKnownResult> {
  // The CRM tells the bridge of every client (one change each), while the portal is still quick.
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, i) => {
      const res = await fetch(`${target.emulator.url}/rest/1/${BENCH_WEBHOOK_SECRET}/crm.contact.update`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ id: clientContactId(i), fields: { NAME: `Client ${i}` } }),
      });
      await res.text();
    }),
  );
  for (const deadline = Date.now() + 60_000; indexed(target.sqlitePath) < CLIENTS;) {
    if (Date.now() > deadline)
      throw new Error(`the CRM phone index learnt ${indexed(target.sqlitePath)} of ${CLIENTS} clients`);
    await sleep(100);
  }
  await target.emulator.control('faults', { latencyMs: options.latencyMs });
  const pbx = new Pbx(target.url);
  const count = Math.round(options.callsPerSec * options.seconds);
  const times: number[] = [];
  let notManagerFirst = 0;
  const calls: Promise<void>[] = [];
  const start = performance.now() + 20;
  for (let n = 0; n < count; n++) {
    const wait = start + (n * 1000) / options.callsPerSec - performance.now();
    if (wait > 1) await sleep(wait);
    const i = n % CLIENTS;
    const c = callEvents(`route-${n}`, 0);
    const from = clientPhone(i);
    const started = { ...(c.started(Date.now(), SALES_LINE, SALES_LINE) as object), from };
    calls.push(
      (async () => {
        await pbx.send([started]);
        const r = await route(target.url, { callId: c.callId, from, to: SALES_LINE, line: SALES_LINE });
        times.push(r.ms);
        if (r.first.join() !== agentExtension(clientManager(i))) notManagerFirst += 1;
        // The caller hangs up at once: the manager's phone stays free for the next call.
        await pbx.send([c.ended(Date.now())]);
      })(),
    );
  }
  await Promise.all(calls);
  await target.emulator.control('faults', { latencyMs: 0 });
  return {
    p50Ms: percentile(times, 50),
    p99Ms: percentile(times, 99),
    samples: times.length,
    notManagerFirst,
    latencyMs: options.latencyMs,
  };
}
