/**
 * The bridge as its own process for the bench: what `b24-bridge serve --config FILE` does (the same
 * `loadConfig` + `startBridge`, logger level and client retry), plus two timestamps for the overhead
 * figure, taken inside the bridge with one clock: when the HTTP request carrying a call's ringing
 * arrives (the bench marks it with an `x-bench-call` header) and when the client puts that call's
 * `register` on the wire (its `request` event). Nothing in `src/` changes for it.
 */
import { performance } from 'node:perf_hooks';
import { startBridge } from '../src/bridge/index.ts';
import { loadConfig } from '../src/config/index.ts';
import { SqliteStore } from '../src/store/index.ts';
import { serveParent } from './ipc.ts';

// A diagnostic only (not a bridge setting): the bench's second overhead run asks for SQLite's
// synchronous=NORMAL to show how much of the overhead is the fsync of each commit.
if (process.env.B24_BENCH_SQLITE_SYNC === 'normal') {
  const open = SqliteStore.open.bind(SqliteStore);
  SqliteStore.open = (options) => open({ ...options, synchronous: 'normal' });
}

const configPath = process.argv[2];
if (configPath === undefined) throw new Error('usage: bridge-child.ts CONFIG');
const { config } = loadConfig({ file: configPath });
const retry = config.bitrix.retry;
const bridge = await startBridge(config, {
  port: 0,
  logger: { level: config.logging.level },
  ...(retry === undefined ? {} : { client: { retry } }),
});

const received = new Map<string, number>();
const sent = new Map<string, number>();
let requests = 0;
let commands = 0;
bridge.server.app.server.on('request', (req: { headers: Record<string, string | string[] | undefined> }) => {
  const id = req.headers['x-bench-call'];
  if (typeof id === 'string' && !received.has(id)) received.set(id, performance.now());
});
bridge.client.on('request', (e) => {
  requests += 1;
  commands += e.commands.length;
  const at = performance.now();
  for (const c of e.commands) {
    if (!/register$/i.test(c.method) || c.label === undefined) continue;
    const key = c.label.slice(0, c.label.lastIndexOf(':'));
    const pbxCallId = key.slice(0, key.lastIndexOf('@'));
    if (!sent.has(pbxCallId)) sent.set(pbxCallId, at);
  }
});

serveParent(
  {
    /** Per call: ms from its ringing request's arrival to its register leaving. */
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
      return { overheadsMs: out, unsent, marked: received.size, requests, commands };
    },
    resetTrace: () => {
      received.clear();
      sent.clear();
      return true;
    },
    portals: () =>
      [...bridge.portals.values()].map((p) => ({
        memberId: p.memberId,
        link: p.outbox.link,
        idle: p.outbox.isIdle,
      })),
    stop: async () => {
      await bridge.close();
      setImmediate(() => process.exit(0));
      return true;
    },
  },
  { url: bridge.url },
);

const stop = (): void => {
  void bridge.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
