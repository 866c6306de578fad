/**
 * Memory per live call, in a process of its own run with --expose-gc: 10,000 calls ringing and
 * answered (talking) at once, and the V8 heap after a full collection, minus the heap before them.
 *
 * - bridge: the real engine, outbox, SQLite store and Bitrix24 client (the client's fetch answered
 *   in-process, so every register is done as against a portal, and nothing else is in the heap);
 * - naive: the baseline's per-call map (its fetch answered in-process the same way).
 * SQLite's own pages are outside the V8 heap; the process's RSS growth is reported beside it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BitrixClient } from '../src/bitrix/index.ts';
import { parseConfig, toEngineConfig } from '../src/config/index.ts';
import { createEngine, type EngineInput } from '../src/core/index.ts';
import { Outbox } from '../src/outbox/index.ts';
import { SqliteStore } from '../src/store/index.ts';
import { serveParent } from './ipc.ts';
import { NaiveBridge, type NaiveEvent } from './naive.ts';
import { agentExtension, bridgeDocument, directory } from './office.ts';
import { phoneOf } from './pbx.ts';

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with --expose-gc');

async function settle(): Promise<{ heap: number; rss: number }> {
  for (let i = 0; i < 4; i++) {
    gc?.();
    await new Promise((r) => setImmediate(r));
  }
  const m = process.memoryUsage();
  return { heap: m.heapUsed, rss: m.rss };
}

let callSeq = 0;
/** A portal that answers at once: register → a CALL_ID, anything else → true. */
function fakePortal(input: string | URL | Request, init?: RequestInit): Promise<Response> {
  const url = String(input instanceof Request ? input.url : input);
  const body = JSON.parse(typeof init?.body === 'string' ? init.body : '{}') as {
    cmd?: Record<string, string>;
  };
  const answer = (method: string): unknown =>
    /register$/i.test(method)
      ? {
          CALL_ID: `externalCall.${++callSeq}`,
          CRM_CREATED_LEAD: null,
          CRM_ENTITY_TYPE: null,
          CRM_ENTITY_ID: null,
        }
      : true;
  const time = { start: 0, finish: 0, duration: 0, operating: 0, operating_reset_at: 0 };
  let result: unknown;
  if (/\/batch$/.test(url) && body.cmd) {
    const results: Record<string, unknown> = {};
    for (const [key, cmd] of Object.entries(body.cmd)) results[key] = answer(cmd.split('?')[0] ?? '');
    result = { result: results, result_error: [], result_total: [], result_next: [], result_time: [] };
  } else {
    result = answer(url.split('/').pop() ?? '');
  }
  return Promise.resolve(
    new Response(JSON.stringify({ result, time }), {
      status: 200,
      headers: { 'content-type': 'application/json' },
    }),
  );
}

/** A call ringing and answered: started, ringing, answered, with their times. */
function inputsOf(n: number, at: number): { input: EngineInput; at: number; dedupeKey: string }[] {
  const callId = `mem-${n}`;
  const ext = agentExtension(n);
  const list: { input: EngineInput; at: number }[] = [
    { input: { type: 'call.started', callId, at, direction: 'inbound', from: phoneOf(n), to: ext }, at },
    { input: { type: 'call.ringing', callId, at: at + 1000, extensions: [ext] }, at: at + 1000 },
    { input: { type: 'call.answered', callId, at: at + 3000, extension: ext }, at: at + 3000 },
  ];
  return list.map((x) => ({ ...x, dedupeKey: `${callId}/${x.input.type}` }));
}

async function bridge(calls: number): Promise<Record<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'b24-bench-mem-'));
  try {
    const parsed = parseConfig(bridgeDocument('http://127.0.0.1:1', dir, { rateLimit: null }));
    if (!parsed.ok) throw parsed.error;
    const store = await SqliteStore.open({ path: join(dir, 'mem.sqlite') });
    const client = new BitrixClient({ fetch: fakePortal, tokenStore: store.tokens });
    const api = await client.addPortal({
      memberId: 'mem',
      auth: { kind: 'webhook', url: 'http://127.0.0.1:1/rest/1/x/' },
      rateLimit: { rate: 1_000_000, burst: 1_000_000 },
    });
    const entries = Object.entries(directory()).map(([extension, userId]) => ({ extension, userId }));
    const engine = createEngine(toEngineConfig(parsed.config, entries));
    const outbox = await Outbox.open({ portalId: 'mem', store, engine, api });
    const feed = async (from: number, count: number): Promise<void> => {
      const now = Date.now();
      for (let i = from; i < from + count; i += 50) {
        const inputs = [];
        for (let k = i; k < Math.min(from + count, i + 50); k++)
          inputs.push(...inputsOf(k, now).map(({ input, dedupeKey }) => ({ input, dedupeKey })));
        await outbox.acceptMany(inputs);
      }
      await outbox.whenIdle();
    };
    // Warm up: code compiled, caches and pools at their working size, then forgotten calls.
    await feed(1_000_000, 500);
    const before = await settle();
    await feed(0, calls);
    const after = await settle();
    const live = outbox.engineState;
    outbox.close();
    client.close();
    await store.close();
    return {
      heapBytes: after.heap - before.heap,
      rssBytes: after.rss - before.rss,
      calls,
      shards: Object.keys(live.shards).length,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function naive(calls: number): Promise<Record<string, number>> {
  const realFetch = globalThis.fetch;
  globalThis.fetch = fakePortal;
  try {
    const n = new NaiveBridge({
      restUrl: 'http://127.0.0.1:1/rest/',
      accessToken: 'x',
      directory: new Map(Object.entries(directory())),
      defaultUserId: 1,
    });
    const feed = async (from: number, count: number): Promise<void> => {
      const now = Date.now();
      for (let k = from; k < from + count; k++) {
        for (const { input, at } of inputsOf(k, now)) {
          n.handle({ ...input, at: new Date(at).toISOString() } as unknown as NaiveEvent);
        }
      }
      await Promise.all([...n.calls.values()].map((c) => c.chain));
    };
    await feed(1_000_000, 500);
    n.calls.clear();
    const before = await settle();
    await feed(0, calls);
    const after = await settle();
    return {
      heapBytes: after.heap - before.heap,
      rssBytes: after.rss - before.rss,
      calls,
      live: n.calls.size,
    };
  } finally {
    globalThis.fetch = realFetch;
  }
}

serveParent({
  measure: (body) => {
    const { kind, calls } = body as { kind: 'bridge' | 'naive'; calls: number };
    return kind === 'bridge' ? bridge(calls) : naive(calls);
  },
});
