/**
 * The live board over server-sent events, for a call centre: each open board gets the most recent
 * `maxCalls` calls once, then only the rows that changed (with the order of the rows shown), at
 * most `pushesPerSec` times a second. The rows are rendered once per change for every board
 * together, not once per board; a board that falls behind gets the latest state, never a queue.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { html } from './html.ts';
import { boardRow, boardRows } from './pages.ts';
import { dataLines, type StreamHub } from './stream.ts';
import type { AdminView } from './view.ts';

export interface BoardSettings {
  maxCalls: number;
  pushesPerSec: number;
}

export const defaultBoardSettings: BoardSettings = { maxCalls: 200, pushesPerSec: 4 };

interface Snapshot {
  /** Row HTML by call key, in the board's order. */
  rows: Map<string, string>;
  /** The whole board (the first push, and a board with no calls), rendered when first needed. */
  full: () => string;
}

const KEEP_ALIVE_MS = 5_000;

/**
 * A row as compared between pushes: rendered with its own start as "now", so the running
 * duration (which the page's script ticks itself) does not make every live row differ each time.
 */
const rowHtml = (row: Parameters<typeof boardRow>[0]): string =>
  boardRow(row, row.endedAt ?? row.answeredAt ?? row.startedAt).text;

interface Board {
  /** What this board shows now: row HTML by key, in order; null before its first push. */
  shown: Map<string, string> | null;
  write(data: string): void;
}

export class BoardStreams {
  private readonly boards = new Set<Board>();
  private queued: NodeJS.Timeout | null = null;
  private lastTick = 0;
  /** Counts the changes: a snapshot of an older count is stale. */
  private version = 0;
  private cached: { snap: Snapshot; version: number; at: number } | null = null;
  private rowCache = new Map<string, { sig: string; html: string }>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly view: AdminView,
    private readonly hub: StreamHub,
    private readonly settings: BoardSettings = defaultBoardSettings,
    private readonly now: () => number = Date.now,
  ) {
    this.unsubscribe = view.onCallChange(() => this.soon());
  }

  /** Stops following the calls (the server is closing; the hub ends the streams). */
  close(): void {
    this.unsubscribe();
    if (this.queued) clearTimeout(this.queued);
    this.queued = null;
  }

  /** The board's rows as the page's first render shows them. */
  calls(): ReturnType<AdminView['calls']> {
    return this.view.calls(this.settings.maxCalls);
  }

  /** One snapshot per change, shared by every board; unchanged, it serves for a second. */
  private snapshot(): Snapshot {
    const now = this.now();
    if (this.cached && this.cached.version === this.version && now - this.cached.at < 1_000)
      return this.cached.snap;
    const calls = this.calls();
    let full: string | undefined;
    // A row is rendered again only when its call changed: a push re-renders a handful, not all.
    const cache = new Map<string, { sig: string; html: string }>();
    for (const c of calls) {
      const sig = JSON.stringify(c);
      const known = this.rowCache.get(c.key);
      cache.set(c.key, known?.sig === sig ? known : { sig, html: rowHtml(c) });
    }
    this.rowCache = cache;
    const snap: Snapshot = {
      rows: new Map([...cache].map(([key, r]) => [key, r.html])),
      full: () => (full ??= boardRows(calls, now).text),
    };
    this.cached = { snap, version: this.version, at: now };
    return snap;
  }

  /** Every board is told at the same tick: one snapshot per tick, whatever the number of boards. */
  private soon(): void {
    this.version += 1;
    if (this.boards.size === 0 || this.queued) return;
    const wait = Math.max(0, this.lastTick + 1000 / this.settings.pushesPerSec - this.now());
    this.queued = setTimeout(() => this.tick(), wait);
  }

  private tick(): void {
    this.queued = null;
    this.lastTick = this.now();
    if (this.boards.size === 0) return;
    const snap = this.snapshot();
    for (const board of this.boards) pushTo(board, snap);
  }

  serve(request: FastifyRequest, reply: FastifyReply): void {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    const board: Board & { writes: number } = {
      shown: null,
      writes: 0,
      write: (data) => {
        board.writes += 1;
        res.write(`event: board\n${dataLines(data)}\n\n`);
      },
    };
    // Durations tick in the page; this moves ended calls off the board and keeps proxies open.
    const keepAlive = setInterval(() => {
      const before = board.writes;
      pushTo(board, this.snapshot());
      if (board.writes === before) res.write(': keep-alive\n\n');
    }, KEEP_ALIVE_MS);
    const close = (): void => {
      if (!this.hub.release(close)) return;
      this.boards.delete(board);
      clearInterval(keepAlive);
      res.end();
      if (this.boards.size === 0 && this.queued) {
        clearTimeout(this.queued);
        this.queued = null;
      }
    };
    this.hub.adopt(close);
    request.raw.once('close', close);
    res.write('retry: 2000\n\n');
    pushTo(board, this.snapshot());
    this.boards.add(board);
  }
}

/** The whole board the first time (and to or from an empty one), then the rows that changed. */
function pushTo(board: Board, snap: Snapshot): void {
  const before = board.shown;
  board.shown = snap.rows;
  if (before === null || before.size === 0 || snap.rows.size === 0) {
    if (before !== null && before.size === 0 && snap.rows.size === 0) return;
    board.write(snap.full());
    return;
  }
  const changed = [...snap.rows].filter(([key, row]) => before.get(key) !== row);
  const keys = [...snap.rows.keys()];
  if (changed.length === 0 && before.size === keys.length) {
    const old = [...before.keys()];
    if (keys.every((k, i) => old[i] === k)) return;
  }
  board.write(
    html`<tr class="board-order" hidden data-full="false" data-keys="${JSON.stringify(keys)}"></tr>`.text +
      changed.map(([, row]) => row).join(''),
  );
}
