import { describe, expect, it } from 'vitest';
import { PbxError, type PbxCommand } from '../../src/pbx/index.ts';
import { CommandBoard, CommandRouter } from '../../src/intake/index.ts';

const transfer = {
  type: 'pbx.transfer',
  commandId: 'c-1',
  callKey: 'k',
  callId: 'call-1',
  extension: '102',
} as const;

describe('CommandRouter with an attached adapter', () => {
  it("hands the PBX's commands to the adapter, once, retrying while the PBX is unreachable", async () => {
    const board = new CommandBoard();
    const router = new CommandRouter({
      pbxes: [{ id: 'ast', token: 'ast-token-1' }],
      board,
      retryDelayMs: 1,
    });
    const tries: PbxCommand[] = [];
    let done!: () => void;
    const executed = new Promise<void>((resolve) => (done = resolve));
    router.attach('ast', (command) => {
      tries.push(command);
      if (tries.length < 3) return Promise.reject(new PbxError('PBX_UNREACHABLE', 'AMI link down'));
      done();
      return Promise.resolve();
    });
    router.dispatch([transfer], 'ast');
    router.dispatch([transfer], 'ast');
    await executed;
    expect(tries).toEqual([
      { commandId: 'c-1', type: 'transfer', callId: 'call-1', extension: '102' },
      { commandId: 'c-1', type: 'transfer', callId: 'call-1', extension: '102' },
      { commandId: 'c-1', type: 'transfer', callId: 'call-1', extension: '102' },
    ]);
    expect(await board.take('ast', 10, 0)).toEqual([]);
    router.close();
    board.close();
  });

  it('does not repeat a command the PBX refused', async () => {
    const board = new CommandBoard();
    const router = new CommandRouter({
      pbxes: [{ id: 'ast', token: 'ast-token-1' }],
      board,
      retryDelayMs: 1,
    });
    let calls = 0;
    let refused!: () => void;
    const answered = new Promise<void>((resolve) => (refused = resolve));
    router.attach('ast', () => {
      calls++;
      refused();
      return Promise.reject(new PbxError('COMMAND_REJECTED', 'no such call'));
    });
    router.dispatch([transfer], 'ast');
    await answered;
    // A retry would be due after 1 ms; the board's long poll gives it 20 ms to show.
    expect(await board.take('ast', 10, 20)).toEqual([]);
    expect(calls).toBe(1);
    router.close();
    board.close();
  });
});
