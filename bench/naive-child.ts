/**
 * The naive baseline as its own process, like the bridge: it takes the same `POST /pbx/v1/events`
 * and calls the portal directly (see naive.ts). It keeps the same two timestamps as
 * bridge-child.ts for the overhead figure.
 */
import { createServer } from 'node:http';
import { performance } from 'node:perf_hooks';
import { serveParent } from './ipc.ts';
import { NaiveBridge, naiveReplay, type NaiveEvent } from './naive.ts';
import { directory } from './office.ts';

const [emulatorUrl, accessToken] = process.argv.slice(2);
if (emulatorUrl === undefined || accessToken === undefined)
  throw new Error('usage: naive-child.ts EMULATOR_URL ACCESS_TOKEN');

const received = new Map<string, number>();
const sent = new Map<string, number>();
const naive = new NaiveBridge({
  restUrl: `${emulatorUrl}/rest/`,
  accessToken,
  directory: new Map(Object.entries(directory())),
  defaultUserId: 1,
  onSend: (id, method) => {
    if (/register$/i.test(method) && !sent.has(id)) sent.set(id, performance.now());
  },
});

const server = createServer((req, res) => {
  const mark = req.headers['x-bench-call'];
  if (typeof mark === 'string' && !received.has(mark)) received.set(mark, performance.now());
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    if (req.method !== 'POST' || req.url !== '/pbx/v1/events') {
      res.writeHead(404).end();
      return;
    }
    let events: NaiveEvent[];
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as NaiveEvent | NaiveEvent[];
      events = Array.isArray(body) ? body : [body];
    } catch {
      res.writeHead(400).end();
      return;
    }
    for (const e of events) naive.handle(e);
    res.writeHead(202, { 'content-type': 'application/json' }).end(`{"accepted":${events.length}}`);
  });
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const address = server.address();
const port = typeof address === 'object' && address !== null ? address.port : 0;

serveParent(
  {
    overheads: () => {
      // A call whose register has not left yet counts with the time it has waited so far.
      const out: number[] = [];
      let unsent = 0;
      const now = performance.now();
      for (const [id, at] of received) {
        const s = sent.get(id);
        if (s === undefined) unsent += 1;
        out.push((s ?? now) - at);
      }
      return { overheadsMs: out, unsent, marked: received.size, ...naive.stats() };
    },
    resetTrace: () => {
      received.clear();
      sent.clear();
      return true;
    },
    stats: () => naive.stats(),
    replay: async (body) => {
      const calls = body as Parameters<typeof naiveReplay>[1];
      await naiveReplay(naive, calls);
      return naive.stats();
    },
    stop: () => {
      server.close();
      setImmediate(() => process.exit(0));
      return true;
    },
  },
  { url: `http://127.0.0.1:${port}` },
);
process.once('SIGTERM', () => process.exit(0));
