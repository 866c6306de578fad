/**
 * Server-sent events for the call board: every open stream gets the board again after any call
 * changed (coalesced to one push per tick), and a keep-alive push now and then so durations and
 * ended calls move on and proxies keep the connection.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AdminView } from './view.ts';

interface BoardStreamOptions {
  view: AdminView;
  /** The event's data: HTML rows for the page, JSON for scripts. */
  render: () => string;
  event: string;
  keepAliveMs?: number;
}

/** One render per change burst: a queue of ten members ringing is one push, not ten. */
const COALESCE_MS = 50;

/**
 * An event's data as `data:` lines. A CR or LF ends a line of the stream wherever it stands, and a
 * stray one would cut the event short (and let the rest pose as a field of the stream): the data
 * is split on every line break, and other control characters are dropped.
 */
export function dataLines(text: string): string {
  return (
    text
      // eslint-disable-next-line no-control-regex
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g, '')
      .split(/\r\n|\r|\n/)
      .map((l) => `data: ${l}`)
      .join('\n')
  );
}

export class StreamHub {
  private readonly open = new Set<() => void>();

  get size(): number {
    return this.open.size;
  }

  serve(request: FastifyRequest, reply: FastifyReply, options: BoardStreamOptions): void {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      // nginx and friends buffer responses unless told not to.
      'x-accel-buffering': 'no',
    });
    let queued: NodeJS.Timeout | null = null;
    const push = (): void => {
      queued = null;
      res.write(`event: ${options.event}\n${dataLines(options.render())}\n\n`);
    };
    const soon = (): void => {
      queued ??= setTimeout(push, COALESCE_MS);
    };
    const unsubscribe = options.view.onCallChange(soon);
    const keepAlive = setInterval(push, options.keepAliveMs ?? 5_000);
    const close = (): void => {
      if (!this.open.delete(close)) return;
      unsubscribe();
      clearInterval(keepAlive);
      if (queued) clearTimeout(queued);
      res.end();
    };
    this.open.add(close);
    request.raw.once('close', close);
    res.write('retry: 2000\n\n');
    push();
  }

  /** Counts a stream served elsewhere (the board's), so that `closeAll` ends it too. */
  adopt(close: () => void): void {
    this.open.add(close);
  }

  /** Forgets an adopted stream; false when it was not (or no longer) open. */
  release(close: () => void): boolean {
    return this.open.delete(close);
  }

  /** Ends every stream: the server cannot close while they are open. */
  closeAll(): void {
    for (const close of [...this.open]) close();
  }
}
