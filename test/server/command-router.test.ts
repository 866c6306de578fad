import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { PbxEffect } from '../../src/core/index.ts';
import { CommandBoard, CommandRouter } from '../../src/intake/index.ts';

const transfer = (commandId: string, callId: string): PbxEffect => ({
  type: 'pbx.transfer',
  commandId,
  callKey: `${callId}@1`,
  callId,
  extension: '102',
});

describe('CommandRouter: transfers and originations reach their PBX once', () => {
  it('queues on the board of the PBX that reported the call, once per commandId', async () => {
    const board = new CommandBoard();
    const router = new CommandRouter({
      pbxes: [
        { id: 'a', token: 'ta' },
        { id: 'b', token: 'tb' },
      ],
      board,
    });
    router.remember('b', 'c1');
    router.dispatch([transfer('k1', 'c1')]);
    router.dispatch([transfer('k1', 'c1')], 'b');
    expect(board.pending('a')).toEqual([]);
    expect(await board.take('b', 10, 0)).toEqual([
      { commandId: 'k1', type: 'transfer', callId: 'c1', extension: '102' },
    ]);
    expect(board.ack('b', 'k1')).toBe('acked');
    router.close();
  });

  it('POSTs to the command URL, retrying until a 2xx, and falls back to the long poll', async () => {
    let calls = 0;
    const bodies: unknown[] = [];
    const server = createServer((req: IncomingMessage, res) => {
      let data = '';
      req.on('data', (d: Buffer) => (data += d.toString()));
      req.on('end', () => {
        const body = JSON.parse(data) as { commandId: string };
        if (body.commandId === 'k3') res.statusCode = 500;
        else {
          calls += 1;
          bodies.push({ auth: req.headers.authorization, body });
          res.statusCode = calls < 3 ? 503 : 200;
        }
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const board = new CommandBoard();
    const failed: string[] = [];
    const router = new CommandRouter({
      pbxes: [{ id: 'a', token: 'ta', commandUrl: `http://127.0.0.1:${String(port)}/commands` }],
      board,
      retryDelayMs: 5,
      attempts: 3,
      onPostFailed: (_pbx, id) => failed.push(id),
    });
    router.dispatch([transfer('k2', 'c2')]);
    const deadline = Date.now() + 5000;
    while (calls < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(calls).toBe(3);
    expect(bodies[2]).toEqual({
      auth: 'Bearer ta',
      body: { commandId: 'k2', type: 'transfer', callId: 'c2', extension: '102' },
    });
    expect(failed).toEqual([]);
    expect(board.pending('a')).toEqual([]);

    // A URL that never takes it: after the last attempt the command waits at the long poll.
    router.dispatch([transfer('k3', 'c3')]);
    const poll = await board.take('a', 10, 5000);
    expect(poll.map((c) => c.commandId)).toEqual(['k3']);
    expect(failed).toEqual(['k3']);
    router.close();
    await new Promise((r) => server.close(r));
  });
});
