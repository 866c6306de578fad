/**
 * The route answer with a call centre on the board: 10,000 live calls (started and ringing, every
 * one registered in the portal), three admin boards open on the live stream, and calls coming and
 * going meanwhile; the figure is `POST /pbx/v1/route`'s p99 as the PBX (the bench) measures it.
 * `npm run bench -- --only boards`.
 */
import { request, type ClientRequest } from 'node:http';
import { agentExtension, PBX_TOKEN } from './office.ts';
import { callEvents, Pbx } from './pbx.ts';
import { startTarget } from './targets.ts';
import { percentile, progress, sleep } from './util.ts';

export interface BoardsResult {
  p50Ms: number;
  p99Ms: number;
  samples: number;
  liveCalls: number;
  boards: number;
  /** Bytes each board received while the routes were measured (mean of the boards). */
  bytesPerBoard: number;
  seconds: number;
}

const ADMIN_TOKEN = 'bench-admin-token-0123456789abcdef';

function openBoard(url: string): { bytes: () => number; close: () => void } {
  let bytes = 0;
  const req: ClientRequest = request(`${url}/board/stream`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  req.on('response', (res) => res.on('data', (d: Buffer) => (bytes += d.length)));
  req.on('error', () => undefined);
  req.end();
  return { bytes: () => bytes, close: () => req.destroy() };
}

async function route(url: string, body: unknown): Promise<number> {
  const started = performance.now();
  const res = await fetch(`${url}/pbx/v1/route`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${PBX_TOKEN}` },
    body: JSON.stringify(body),
  });
  await res.text();
  if (!res.ok) throw new Error(`POST /pbx/v1/route: ${res.status}`);
  return performance.now() - started;
}

export async function routeWithBoards(
  options: { liveCalls: number; boards: number; routesPerSec: number; seconds: number } = {
    liveCalls: 10_000,
    boards: 3,
    routesPerSec: 20,
    seconds: 20,
  },
): Promise<BoardsResult> {
  const target = await startTarget({
    kind: 'bridge',
    rateLimit: null,
    noRecordingWait: true,
    env: { B24_BRIDGE_ADMIN_TOKEN: ADMIN_TOKEN },
  });
  const boards: ReturnType<typeof openBoard>[] = [];
  try {
    const pbx = new Pbx(target.url);
    progress(`boards: ${String(options.liveCalls)} live calls`);
    const now = Date.now();
    const BATCH = 100;
    for (let n = 0; n < options.liveCalls; n += BATCH) {
      const events: unknown[] = [];
      for (let i = n; i < Math.min(options.liveCalls, n + BATCH); i += 1) {
        const c = callEvents(`live-${String(i)}`, i);
        events.push(c.started(now, agentExtension(i)), c.ringing(now + 1, [agentExtension(i)]));
      }
      await pbx.send(events);
    }
    // Every call registered and its card shown: the portal has caught up, the board is full.
    for (const deadline = Date.now() + 600_000; ;) {
      const portals = await target.child.ask<{ idle: boolean }[]>('portals');
      if (portals.every((p) => p.idle)) break;
      if (Date.now() > deadline) throw new Error('the outbox did not catch up with the live calls');
      await sleep(500);
    }
    for (let b = 0; b < options.boards; b += 1) boards.push(openBoard(target.url));
    await sleep(1_000);
    const bytesBefore = boards.map((b) => b.bytes());
    progress(`boards: ${String(options.boards)} boards open; routes for ${String(options.seconds)} s`);
    const times: number[] = [];
    const work: Promise<void>[] = [];
    const count = options.routesPerSec * options.seconds;
    const start = performance.now() + 20;
    for (let n = 0; n < count; n += 1) {
      const wait = start + (n * 1000) / options.routesPerSec - performance.now();
      if (wait > 1) await sleep(wait);
      const i = options.liveCalls + n;
      const c = callEvents(`routed-${String(n)}`, i);
      const old = callEvents(`live-${String(n)}`, n);
      work.push(
        (async () => {
          // The board moves: a new call starts and an old one ends with every route asked.
          await pbx.send([c.started(Date.now(), agentExtension(i)), old.ended(Date.now())]);
          times.push(await route(target.url, { callId: c.callId, from: c.from, to: agentExtension(i) }));
        })(),
      );
    }
    await Promise.all(work);
    const received = boards.map((b, i) => b.bytes() - (bytesBefore[i] ?? 0));
    return {
      p50Ms: percentile(times, 50),
      p99Ms: percentile(times, 99),
      samples: times.length,
      liveCalls: options.liveCalls,
      boards: boards.length,
      bytesPerBoard: Math.round(received.reduce((a, b) => a + b, 0) / Math.max(1, received.length)),
      seconds: options.seconds,
    };
  } finally {
    for (const b of boards) b.close();
    await target.stop();
  }
}
