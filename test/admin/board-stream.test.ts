/**
 * The live board's stream for a call centre, over a real socket: the most recent calls only, then
 * only the rows that changed, and a burst of changes coalesced into few pushes.
 */
import { get, type ClientRequest } from 'node:http';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { registerAdmin, type CallRow } from '../../src/admin/index.ts';
import { handleError } from '../../src/server/errors.ts';
import { call, FakeView } from './fake-view.ts';

const TOKEN = 'admin-token-0123456789';

class RecentView extends FakeView {
  override calls(limit?: number): CallRow[] {
    return limit === undefined ? this.callRows : this.callRows.slice(0, limit);
  }
}

let app: FastifyInstance;
let view: RecentView;
let request: ClientRequest | undefined;

const rows = (n: number, from = 0): CallRow[] =>
  Array.from({ length: n }, (_, i) =>
    call({ key: `k${String(i + from)}@1`, pbxCallId: `call-${String(i + from)}`, startedAt: 1_000_000 - i }),
  );

beforeEach(() => {
  view = new RecentView();
  app = Fastify();
  app.setErrorHandler(handleError);
  registerAdmin(app, { view, credentials: { token: TOKEN }, board: { maxCalls: 3, pushesPerSec: 2 } });
});
afterEach(async () => {
  request?.destroy();
  await app.close();
});

/** The board's events as they arrive; `next(n)` resolves once n events have come. */
async function open(): Promise<{ events: string[]; next(n: number): Promise<string[]> }> {
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  const events: string[] = [];
  const waiters: { n: number; resolve: (e: string[]) => void }[] = [];
  let buffer = '';
  request = get(`${address}/board/stream`, { headers: { authorization: `Bearer ${TOKEN}` } }, (res) => {
    res.on('data', (d: Buffer) => {
      buffer += d.toString();
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (!block.startsWith('event: board')) continue;
        events.push(
          block
            .split('\n')
            .filter((l) => l.startsWith('data: '))
            .map((l) => l.slice(6))
            .join('\n'),
        );
        for (const w of waiters.filter((x) => events.length >= x.n)) w.resolve(events.slice());
      }
    });
  });
  return {
    events,
    next: (n) =>
      events.length >= n
        ? Promise.resolve(events.slice())
        : new Promise((resolve) => waiters.push({ n, resolve })),
  };
}

describe('the live board stream', () => {
  it('shows only the most recent calls, then sends only the rows that changed', async () => {
    view.callRows = rows(10);
    const stream = await open();
    const [first = ''] = await stream.next(1);
    expect(first.match(/<tr class="call/g)).toHaveLength(3);
    expect(first).toContain('call-0');
    expect(first).not.toContain('call-3');
    view.callRows = rows(10).map((c) => (c.key === 'k1@1' ? { ...c, legs: { '101': 'talking' } } : c));
    view.changed();
    const events = await stream.next(2);
    const patch = events[1] ?? '';
    expect(patch).toContain('data-full="false"');
    expect(patch).toContain('&quot;k0@1&quot;,&quot;k1@1&quot;,&quot;k2@1&quot;');
    expect(patch.match(/<tr class="call/g)).toHaveLength(1);
    expect(patch).toContain('talking: 101');
  });

  it('coalesces a burst of changes into one push', async () => {
    view.callRows = rows(3);
    const stream = await open();
    await stream.next(1);
    for (let i = 0; i < 50; i += 1) {
      view.callRows = rows(3).map((c, j) =>
        j === 0 ? { ...c, phoneNumber: `+7916000${String(i).padStart(4, '0')}` } : c,
      );
      view.changed();
    }
    const events = await stream.next(2);
    // The push after the burst carries its last state; the ones between were never sent.
    expect(events[1]).toContain('+79160000049');
    expect(events[1]).not.toContain('+79160000048');
    view.changed();
    // Nothing changed since: no push at all (the next one comes only with a real change).
    view.callRows = view.callRows.map((c, j) =>
      j === 2 ? { ...c, endedAt: 1_000_500, phase: 'wrapping' } : c,
    );
    view.changed();
    const after = await stream.next(3);
    expect(after[2]).toContain('ended');
    expect(after[2]?.match(/<tr class="call/g)).toHaveLength(1);
  });
});
