/**
 * The bridge as the admin UI sees it (`AdminView`): live calls from the engines' states, queues
 * and lines from the running configuration, the extension map from the portals' users, health
 * from the client and the outboxes. Queue edits are checked by compiling the engines they make,
 * persisted (lines-file.ts), then applied to every running engine.
 */
import { EventEmitter } from 'node:events';
import type {
  AdminView,
  BacklogRow,
  CallRow,
  ExtensionMap,
  ExtensionRow,
  LineRow,
  PortalHealth,
  QueueEdit,
  QueueRow,
  ReplayStarted,
} from '../admin/index.ts';
import type { BitrixClient } from '../bitrix/index.ts';
import { toEngineConfig, type BridgeConfig, type LineSettings } from '../config/index.ts';
import { allCalls, createEngine, EngineConfigError, type Call, type Engine } from '../core/index.ts';
import { ServerError } from '../http/index.ts';
import type { Store } from '../store/index.ts';
import { LINES_SETTING, readStoredLines, storeEditedLines, type LinesFile } from './lines-file.ts';
import { directoryOf, type PortalRuntime } from '../portal/index.ts';

/** Ended calls stay on the board this long, so a person sees how a call ended. */
const ENDED_VISIBLE_MS = 60_000;

type Rules = BridgeConfig['engine'];

interface QueueRef {
  id: string;
  rules: Rules;
  line: LineSettings;
}

interface BridgeViewOptions {
  config: BridgeConfig;
  portals: ReadonlyMap<string, PortalRuntime>;
  client: BitrixClient;
  store: Store;
  /** The revision of the edited lines the configuration holds (0: none edited yet). */
  linesRevision?: number | undefined;
  now?: () => number;
}

function routingKind(line: LineSettings): LineRow['routing'] {
  return line.routing.kind;
}

export class BridgeAdminView implements AdminView {
  private readonly changes = new EventEmitter();
  private readonly lastError = new Map<string, { code: string; at: number }>();
  /** The largest backlog since the portal's outbox was last empty: the size of the replay. */
  private readonly peak = new Map<string, number>();
  private readonly now: () => number;
  private edits: Promise<unknown> = Promise.resolve();
  private linesRevision: number;

  constructor(private readonly o: BridgeViewOptions) {
    this.now = o.now ?? Date.now;
    this.linesRevision = o.linesRevision ?? 0;
    this.changes.setMaxListeners(0);
  }

  /** Follows one portal's outbox (the bridge calls it for every portal it connects). */
  watch(runtime: PortalRuntime): void {
    const { outbox, memberId } = runtime;
    outbox.on('accepted', ({ duplicate }) => {
      if (!duplicate) this.changes.emit('change');
    });
    outbox.on('entry', (e) => {
      if (e.code !== undefined && e.status !== 'done')
        this.lastError.set(memberId, { code: e.code, at: this.now() });
      // A register's answer brings the CRM match.
      if (e.kind === 'register') this.changes.emit('change');
    });
    outbox.on('link', ({ code }) => {
      if (code !== undefined) this.lastError.set(memberId, { code, at: this.now() });
    });
  }

  onCallChange(listener: () => void): () => void {
    this.changes.on('change', listener);
    return () => this.changes.off('change', listener);
  }

  calls(limit?: number): CallRow[] {
    const now = this.now();
    // Rows are made only for the calls shown: with thousands live, building a row for each of
    // them on every push is what slowed the bridge.
    const shown = limit === undefined ? this.visibleCalls(now) : this.mostRecent(now, Math.max(0, limit));
    const names = new Map<PortalRuntime, Map<number, string>>();
    return shown.map(({ runtime, call }) => {
      let known = names.get(runtime);
      if (!known) {
        known = new Map(runtime.directory.users.map((u) => [u.id, `${u.name} ${u.lastName}`.trim()]));
        names.set(runtime, known);
      }
      return callRow(runtime.memberId, call, known);
    });
  }

  private visibleCalls(now: number): { runtime: PortalRuntime; call: Call }[] {
    const picked: { runtime: PortalRuntime; call: Call }[] = [];
    for (const runtime of this.o.portals.values())
      for (const call of allCalls(runtime.outbox.engineState))
        if (visible(call, now)) picked.push({ runtime, call });
    return picked.sort((a, b) => b.call.startedAt - a.call.startedAt);
  }

  /**
   * The `limit` most recent visible calls in one pass, kept sorted as they are found: with ten
   * thousand live calls and a board of two hundred, most calls are compared once and dropped.
   */
  private mostRecent(now: number, limit: number): { runtime: PortalRuntime; call: Call }[] {
    const top: { runtime: PortalRuntime; call: Call }[] = [];
    if (limit === 0) return top;
    for (const runtime of this.o.portals.values())
      for (const shard of Object.values(runtime.outbox.engineState.shards))
        for (const call of Object.values(shard)) {
          const last = top.at(-1);
          if (top.length >= limit && last !== undefined && call.startedAt <= last.call.startedAt) continue;
          if (!visible(call, now)) continue;
          let i = top.length;
          while (i > 0 && (top[i - 1]?.call.startedAt ?? 0) < call.startedAt) i -= 1;
          top.splice(i, 0, { runtime, call });
          if (top.length > limit) top.pop();
        }
    return top;
  }

  lines(): LineRow[] {
    return this.allLines().map(({ line, suffix }) => {
      const r = line.routing;
      const queue = r.kind === 'queue' ? r.queue : r.kind === 'responsible' ? r.then : null;
      return {
        id: `${line.id}${suffix}`,
        name: line.name ?? null,
        number: line.number ?? null,
        calledNumbers: line.calledNumbers ?? [],
        routing: routingKind(line),
        targets: queue
          ? queue.members
          : r.kind === 'direct' && r.extension !== undefined
            ? [r.extension]
            : [],
        strategy: queue ? queue.strategy : null,
        leadCreation: line.leadCreation,
      };
    });
  }

  queues(): QueueRow[] {
    return this.queueRefs().map(queueRow);
  }

  async updateQueue(id: string, edit: QueueEdit): Promise<QueueRow | undefined> {
    // One edit at a time: two saves racing would each write the file with half the changes.
    const run = this.edits.then(() => this.applyEdit(id, edit));
    this.edits = run.catch(() => undefined);
    return run;
  }

  private async applyEdit(id: string, edit: QueueEdit): Promise<QueueRow | undefined> {
    const ref = this.queueRefs().find((q) => q.id === id);
    if (!ref) return undefined;
    const { line, rules } = ref;
    const r = line.routing;
    const changed = {
      members: edit.members,
      strategy: edit.strategy,
      memberTimeoutSec: edit.memberTimeoutSec,
    };
    const routing: LineSettings['routing'] =
      r.kind === 'queue'
        ? { ...r, queue: { ...r.queue, ...changed } }
        : r.kind === 'responsible'
          ? { ...r, then: { ...r.then, ...changed } }
          : r;
    const lines = rules.lines.map((l) => (l === line ? { ...l, routing } : l));
    const nextRules: Rules = { ...rules, lines };
    // Every engine these rules drive is compiled first: a refusal changes nothing anywhere.
    const engines: [PortalRuntime, Engine][] = [];
    for (const runtime of this.o.portals.values()) {
      if (runtime.rules !== rules) continue;
      try {
        engines.push([
          runtime,
          createEngine(
            toEngineConfig({ ...this.o.config, engine: nextRules }, directoryOf(runtime.directory.users)),
          ),
        ]);
      } catch (e) {
        if (e instanceof EngineConfigError)
          throw new ServerError('INVALID_QUEUE', 400, `the queue was not changed: ${e.message}`, {
            cause: e,
          });
        throw e;
      }
    }
    const previous = rules.lines;
    // In place: the runtimes hold this same object, and a later directory refresh rebuilds from it.
    rules.lines = lines;
    try {
      this.linesRevision = await storeEditedLines(this.o.store, this.o.config, this.now());
    } catch (cause) {
      rules.lines = previous;
      throw new ServerError('NOT_SAVED', 500, 'the queue could not be saved; nothing was changed', { cause });
    }
    for (const [runtime, engine] of engines) runtime.outbox.setEngine(engine);
    const saved = this.queueRefs().find((q) => q.id === id);
    return saved ? queueRow(saved) : undefined;
  }

  async extensions(): Promise<ExtensionMap[]> {
    const maps: ExtensionMap[] = [];
    for (const runtime of this.o.portals.values()) {
      // Read again when stale, so a person who fixed a user in Bitrix24 sees it here.
      const d = runtime.directory;
      if (d.refreshedAt === null || this.now() - d.refreshedAt > 60_000) await runtime.refreshDirectory();
      maps.push(extensionMap(runtime));
    }
    return maps;
  }

  async portals(): Promise<PortalHealth[]> {
    const out: PortalHealth[] = [];
    const rate = this.o.config.bitrix.rateLimit;
    for (const runtime of this.o.portals.values()) {
      const { memberId, record } = runtime;
      const state = this.o.client.has(memberId) ? this.o.client.state(memberId) : undefined;
      // Only the expiry leaves this method: the tokens themselves never reach the UI.
      const expiresAt =
        record.authKind === 'oauth' ? ((await this.o.store.tokens.get(memberId))?.expiresAt ?? null) : null;
      out.push({
        portal: memberId,
        domain: record.domain,
        auth: record.authKind,
        link: runtime.outbox.link,
        bucket: { level: state?.bucketLevel ?? 0, burst: rate.burst, rate: rate.rate },
        queued: state?.depth ?? 0,
        inFlight: state?.inFlight ?? 0,
        pausedForMs: state?.pausedForMs ?? 0,
        tokenExpiresAt: expiresAt,
        needsReinstall: state?.needsReinstall ?? null,
      });
    }
    return out;
  }

  async backlog(): Promise<BacklogRow[]> {
    const out: BacklogRow[] = [];
    for (const { memberId } of this.o.portals.values()) {
      const b = await this.o.store.backlog(memberId);
      const open = b.pending + b.inFlight;
      const peak = Math.max(this.peak.get(memberId) ?? 0, open);
      this.peak.set(memberId, open === 0 ? 0 : peak);
      out.push({
        portal: memberId,
        pending: b.pending,
        inFlight: b.inFlight,
        failed: b.failed,
        dropped: b.dropped,
        oldestOpenAt: b.oldestOpenAt,
        lastError: this.lastError.get(memberId) ?? null,
        replay: open > 0 && peak > 1 ? { total: peak, delivered: peak - open } : null,
      });
    }
    return out;
  }

  async replay(portal: string): Promise<ReplayStarted | undefined> {
    const runtime = this.o.portals.get(portal);
    if (!runtime) return undefined;
    runtime.outbox.deliverNow();
    const b = await this.o.store.backlog(portal);
    return { portal, open: b.pending + b.inFlight };
  }

  // --- helpers ---

  /** Top-level lines, then each `portals[]` entry's own lines (ids suffixed `@portal`). */
  /**
   * Several instances on one store: an edit made through another instance's admin UI is taken
   * here too (looked for every `intervalMs`), so every instance routes by the same queues.
   */
  followEdits(intervalMs: number, onError: (error: unknown) => void): () => void {
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    const look = async (): Promise<void> => {
      const stored = await readStoredLines(this.o.store);
      if (stored && stored.revision > this.linesRevision) {
        const adopted = this.edits.then(() => {
          this.adoptLines(stored.file);
          this.linesRevision = stored.revision;
        });
        this.edits = adopted.catch(() => undefined);
        await adopted;
      }
    };
    const next = (): void => {
      if (stopped) return;
      timer = setTimeout(() => {
        look().catch(onError).finally(next);
      }, intervalMs);
      timer.unref();
    };
    next();
    // On PostgreSQL another instance's edit is told at once (LISTEN/NOTIFY); the poll stays, for
    // a notification missed while the listening connection was down.
    let looking: Promise<void> = Promise.resolve();
    const unwatch =
      this.o.store.admin.watchSetting?.(LINES_SETTING, () => {
        if (stopped) return;
        looking = looking.then(() => look().catch(onError));
      }) ?? (() => undefined);
    return () => {
      stopped = true;
      clearTimeout(timer);
      unwatch();
    };
  }

  /** The lines another instance stored: each rules object takes its own, and its engines follow. */
  private adoptLines(file: LinesFile): void {
    const targets: [Rules, Rules['lines'] | undefined][] = [
      [this.o.config.engine, file.lines],
      ...this.o.config.portals.map((p): [Rules, Rules['lines'] | undefined] => [
        p.engine,
        file.portals[p.portal],
      ]),
    ];
    for (const [rules, lines] of targets) {
      if (lines === undefined || JSON.stringify(lines) === JSON.stringify(rules.lines)) continue;
      const engines: [PortalRuntime, Engine][] = [];
      for (const runtime of this.o.portals.values()) {
        if (runtime.rules !== rules) continue;
        engines.push([
          runtime,
          createEngine(
            toEngineConfig(
              { ...this.o.config, engine: { ...rules, lines } },
              directoryOf(runtime.directory.users),
            ),
          ),
        ]);
      }
      rules.lines = lines;
      for (const [runtime, engine] of engines) runtime.outbox.setEngine(engine);
    }
    this.changes.emit('change');
  }

  private allLines(): { line: LineSettings; rules: Rules; suffix: string }[] {
    const { config } = this.o;
    return [
      ...config.engine.lines.map((line) => ({ line, rules: config.engine, suffix: '' })),
      ...config.portals.flatMap((p) =>
        p.engine.lines.map((line) => ({ line, rules: p.engine, suffix: `@${p.portal}` })),
      ),
    ];
  }

  private queueRefs(): QueueRef[] {
    return this.allLines().flatMap(({ line, rules, suffix }) =>
      line.routing.kind === 'direct' ? [] : [{ id: `${line.id}${suffix}`, rules, line }],
    );
  }
}

function visible(call: Call, now: number): boolean {
  // The end of a call whose start has not come is no call yet.
  if (call.tombstone === true) return false;
  if (call.phase === 'pending' || call.phase === 'live') return true;
  const ended = call.endedAt ?? call.doneAt;
  return ended !== null && now - ended < ENDED_VISIBLE_MS;
}

function callRow(portal: string, call: Call, names: ReadonlyMap<number, string>): CallRow {
  return {
    portal,
    key: call.key,
    pbxCallId: call.pbxCallId,
    direction: call.direction,
    origin: call.origin,
    phoneNumber: call.phoneNumber,
    calledNumber: call.calledNumber,
    lineId: call.lineId,
    crm: call.crm,
    createdLead: call.createdLead,
    cardHolders: call.card.holders.map((userId) => ({ userId, name: names.get(userId) ?? null })),
    phase: call.phase,
    legs: { ...call.legs },
    startedAt: call.startedAt,
    answeredAt: call.answeredAt,
    endedAt: call.endedAt,
    endReason: call.endReason,
  };
}

function queueRow({ id, line }: QueueRef): QueueRow {
  const r = line.routing;
  const queue = r.kind === 'queue' ? r.queue : r.kind === 'responsible' ? r.then : null;
  if (!queue) throw new Error(`line ${line.id} has no queue`);
  return {
    id,
    lineName: line.name ?? null,
    lineNumber: line.number ?? null,
    routing: r.kind === 'responsible' ? 'responsible' : 'queue',
    members: [...queue.members],
    strategy: queue.strategy,
    memberTimeoutSec: queue.memberTimeoutSec,
    extension: queue.extension ?? null,
    responsibleTimeoutSec: r.kind === 'responsible' ? r.responsibleTimeoutSec : null,
  };
}

/** Every user and extension of a portal, with what is wrong about each. */
export function extensionMap(runtime: Pick<PortalRuntime, 'memberId' | 'rules' | 'directory'>): ExtensionMap {
  const rows: ExtensionRow[] = [];
  const name = (u: { name: string; lastName: string }): string => `${u.name} ${u.lastName}`.trim();
  for (const u of runtime.directory.users) {
    rows.push({
      extension: u.extension,
      userId: u.id,
      userName: name(u),
      source: 'portal',
      problems: u.extension === null ? ['user_without_extension'] : [],
    });
  }
  const names = new Map(runtime.directory.users.map((u) => [u.id, name(u)]));
  for (const entry of runtime.rules.directory) {
    rows.push({
      extension: entry.extension,
      userId: entry.userId,
      userName: entry.userId === null ? null : (names.get(entry.userId) ?? null),
      source: 'config',
      problems: entry.userId === null ? ['extension_without_user'] : [],
    });
  }
  // The same extension claimed by two different users: only the first one listed gets its calls.
  const usersOf = new Map<string, Set<number | null>>();
  for (const r of rows) {
    if (r.extension === null) continue;
    const set = usersOf.get(r.extension) ?? new Set();
    set.add(r.userId);
    usersOf.set(r.extension, set);
  }
  for (const r of rows)
    if (r.extension !== null && (usersOf.get(r.extension)?.size ?? 0) > 1)
      r.problems.push('duplicate_extension');
  // Queue members nobody answers to: the queue rings a phone no user sits behind.
  const members = new Set(
    runtime.rules.lines.flatMap((l) =>
      l.routing.kind === 'queue'
        ? l.routing.queue.members
        : l.routing.kind === 'responsible'
          ? l.routing.then.members
          : [],
    ),
  );
  for (const m of members)
    if (!usersOf.has(m))
      rows.push({
        extension: m,
        userId: null,
        userName: null,
        source: 'config',
        problems: ['extension_without_user', 'unknown_member'],
      });
  rows.sort((a, b) =>
    (a.extension ?? '\uffff').localeCompare(b.extension ?? '\uffff', 'en', { numeric: true }),
  );
  return {
    portal: runtime.memberId,
    rows,
    error:
      runtime.directory.error === null
        ? null
        : `the portal's users could not be read (${runtime.directory.error})`,
  };
}
