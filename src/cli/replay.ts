/**
 * `b24-bridge replay [--portal ID] [--dry-run]`: what waits for Bitrix24 (per portal: open outbox
 * entries, the oldest, the calls they belong to), and, without --dry-run, its delivery now: the
 * portal's outbox is opened over the store, exactly as the bridge opens it at start, and delivers
 * until nothing is open or the portal cannot be reached.
 *
 * It refuses to deliver while the bridge runs: two processes delivering one outbox would each take
 * the other's entries in flight for a dead process's and send them again.
 */
import { BitrixClient } from '../bitrix/index.ts';
import { bridgeClientRetry, connectPortal, type PortalRuntime } from '../bridge/index.ts';
import type { BridgeConfig } from '../config/index.ts';
import type { EntryEvent, LinkState } from '../outbox/index.ts';
import { openStore, sealerFromEnv, type PortalRecord, type Store } from '../store/index.ts';

/** A refusal of the replay command, with a stable `code` for scripts. */
class ReplayError extends Error {
  readonly code: 'REPLAY_BRIDGE_RUNNING' | 'REPLAY_UNKNOWN_PORTAL';

  constructor(code: ReplayError['code'], message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ReplayError';
    this.code = code;
  }
}

interface Waiting {
  memberId: string;
  domain: string | null;
  pending: number;
  inFlight: number;
  /** Calls with at least one open entry. */
  calls: number;
  oldestOpenAt: number | null;
}

interface PortalReplay {
  before: Waiting;
  /** After delivery; null on a dry run or when nothing waited. */
  after: Waiting | null;
  /** Entries that reached a final state during the replay, by state. */
  settled: { done: number; dropped: number; failed: number };
  /** Set when delivery stopped because the portal could not be reached (link down or attention). */
  stoppedBy: { state: Exclude<LinkState, 'up'>; code: string | undefined } | null;
}

interface ReplayOutcome {
  portals: PortalReplay[];
  /** Nothing waits any more (always true on a dry run: nothing was asked of the portal). */
  complete: boolean;
}

/** Where the command writes; a TTY gets a redrawn progress bar, anything else plain lines. */
interface ReplayOutput {
  write(text: string): unknown;
  isTTY?: boolean | undefined;
}

interface ReplayOptions {
  /** Only this portal (its member_id). */
  portal?: string | undefined;
  dryRun?: boolean | undefined;
  out: ReplayOutput;
  /** Told of things an operator should know (a portal whose users cannot be read). */
  warn?: ((message: string) => void) | undefined;
  /** Whether a bridge answers at its configured address; tests replace it. */
  bridgeRunning?: ((config: BridgeConfig) => Promise<boolean>) | undefined;
}

async function bridgeAnswers(config: BridgeConfig): Promise<boolean> {
  const host = config.server.host === '0.0.0.0' ? '127.0.0.1' : config.server.host;
  const url = config.server.publicUrl ?? `http://${host}:${config.server.port}`;
  try {
    const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) });
    await res.body?.cancel();
    return true;
  } catch {
    return false;
  }
}

async function waitingOf(store: Store, portal: PortalRecord): Promise<Waiting> {
  const backlog = await store.backlog(portal.memberId);
  const open = await store.openCalls(portal.memberId);
  const calls = new Set(
    open.filter((e) => e.status === 'pending' || e.status === 'in_flight').map((e) => e.callKey),
  );
  return {
    memberId: portal.memberId,
    domain: portal.domain,
    pending: backlog.pending,
    inFlight: backlog.inFlight,
    calls: calls.size,
    oldestOpenAt: backlog.oldestOpenAt,
  };
}

function formatWaiting(w: Waiting): string {
  const name = `portal ${w.memberId}${w.domain === null ? '' : ` (${w.domain})`}`;
  if (w.pending + w.inFlight === 0) return `${name}: nothing waits`;
  const oldest = w.oldestOpenAt === null ? '' : `, oldest ${new Date(w.oldestOpenAt).toISOString()}`;
  return `${name}: ${w.pending} pending, ${w.inFlight} in flight, ${w.calls} calls affected${oldest}`;
}

const BAR_WIDTH = 30;

/** Progress of one portal's delivery: a bar redrawn in place on a TTY, a line per tenth otherwise. */
class Progress {
  private lastTenth = -1;
  private lastDraw = 0;

  constructor(
    private readonly out: ReplayOutput,
    private readonly memberId: string,
    private readonly total: number,
  ) {}

  update(settled: number, force = false): void {
    const total = Math.max(this.total, settled, 1);
    const share = Math.min(1, settled / total);
    if (this.out.isTTY === true) {
      const now = Date.now();
      // A redraw per answer would flood a slow terminal: ten a second at most.
      if (!force && now - this.lastDraw < 100) return;
      this.lastDraw = now;
      const full = Math.round(share * BAR_WIDTH);
      const bar = `${'#'.repeat(full)}${'-'.repeat(BAR_WIDTH - full)}`;
      this.out.write(`\r  [${bar}] ${String(Math.floor(share * 100)).padStart(3)}% ${settled}/${total}`);
      return;
    }
    const tenth = Math.floor(share * 10);
    if (tenth === this.lastTenth && !force) return;
    this.lastTenth = tenth;
    this.out.write(`  ${this.memberId}: ${settled}/${total} entries settled (${tenth * 10}%)\n`);
  }

  end(settled: number): void {
    this.update(settled, true);
    if (this.out.isTTY === true) this.out.write('\n');
  }
}

const finalStates: ReadonlySet<string> = new Set(['done', 'dropped', 'failed']);

/** Delivers one portal's outbox until nothing is open or the link is lost. */
async function deliver(
  runtime: PortalRuntime,
  before: Waiting,
  out: ReplayOutput,
): Promise<Pick<PortalReplay, 'settled' | 'stoppedBy'>> {
  const { outbox } = runtime;
  const settled = { done: 0, dropped: 0, failed: 0 };
  const progress = new Progress(out, runtime.memberId, before.pending + before.inFlight);
  const count = (): number => settled.done + settled.dropped + settled.failed;
  const onEntry = (e: EntryEvent): void => {
    if (!finalStates.has(e.status)) return;
    settled[e.status as keyof typeof settled] += 1;
    progress.update(count());
  };
  outbox.on('entry', onEntry);
  let onLink: ((e: { state: LinkState; code: string | undefined }) => void) | undefined;
  const lost = new Promise<PortalReplay['stoppedBy']>((resolve) => {
    onLink = (e) => {
      if (e.state !== 'up') resolve({ state: e.state, code: e.code });
    };
    outbox.on('link', onLink);
  });
  try {
    progress.update(0, true);
    const stoppedBy = await Promise.race([outbox.whenIdle().then(() => null), lost]);
    progress.end(count());
    return { settled, stoppedBy };
  } finally {
    outbox.off('entry', onEntry);
    if (onLink) outbox.off('link', onLink);
  }
}

export async function replay(config: BridgeConfig, options: ReplayOptions): Promise<ReplayOutcome> {
  const { out } = options;
  const dryRun = options.dryRun === true;
  const warn = options.warn ?? ((message: string) => console.error(`b24-bridge: ${message}`));
  if (!dryRun && (await (options.bridgeRunning ?? bridgeAnswers)(config)))
    throw new ReplayError(
      'REPLAY_BRIDGE_RUNNING',
      'the bridge is running and delivers by itself; stop it to replay, or add --dry-run to look',
    );

  const store = await openStore(config, sealerFromEnv().sealer);
  const bitrix = config.bitrix;
  let client: BitrixClient | undefined;
  const runtimes: PortalRuntime[] = [];
  try {
    const all = await store.listPortals();
    const portals = options.portal === undefined ? all : all.filter((p) => p.memberId === options.portal);
    if (options.portal !== undefined && portals.length === 0)
      throw new ReplayError(
        'REPLAY_UNKNOWN_PORTAL',
        `no portal ${JSON.stringify(options.portal.slice(0, 100))} in the store (known: ${
          all.map((p) => p.memberId).join(', ') || 'none'
        })`,
      );
    if (portals.length === 0) out.write('no portal is connected yet\n');

    const results: PortalReplay[] = [];
    for (const portal of portals) {
      const before = await waitingOf(store, portal);
      out.write(`${formatWaiting(before)}\n`);
      const result: PortalReplay = {
        before,
        after: null,
        settled: { done: 0, dropped: 0, failed: 0 },
        stoppedBy: null,
      };
      results.push(result);
      if (dryRun || before.pending + before.inFlight === 0) continue;

      client ??= new BitrixClient({
        app:
          bitrix.mode === 'app'
            ? { clientId: bitrix.clientId, clientSecret: bitrix.clientSecret, oauthUrl: bitrix.oauthUrl }
            : undefined,
        tokenStore: store.tokens,
        retry: bitrix.retry ?? bridgeClientRetry,
        shared: store.coordination,
      });
      const runtime = await connectPortal({ config, store, client, warn }, portal);
      runtimes.push(runtime);
      const { settled, stoppedBy } = await deliver(runtime, before, out);
      runtime.outbox.close();
      result.settled = settled;
      result.stoppedBy = stoppedBy;
      result.after = await waitingOf(store, portal);
      const left = result.after.pending + result.after.inFlight;
      const summary = `${settled.done} delivered, ${settled.dropped} dropped, ${settled.failed} failed`;
      out.write(
        stoppedBy === null
          ? `  ${portal.memberId}: ${summary}; ${left === 0 ? 'nothing waits now' : `${left} still wait`}\n`
          : `  ${portal.memberId}: stopped, the portal cannot be reached (${stoppedBy.state}` +
              `${stoppedBy.code === undefined ? '' : `: ${stoppedBy.code}`}); ${summary}; ${left} still wait\n`,
      );
    }
    if (dryRun) out.write('dry run: nothing was sent\n');
    const complete =
      dryRun || results.every((r) => r.after === null || r.after.pending + r.after.inFlight === 0);
    return { portals: results, complete };
  } finally {
    for (const r of runtimes) r.outbox.close();
    client?.close();
    await store.close();
  }
}
