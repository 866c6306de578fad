import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  freePort,
  installBridge,
  pbxCall,
  sendEvents,
  startBridgeProcess,
  startEmulatorProcess,
  stop,
  tempDir,
  waitFor,
  writeBridgeConfig,
  type BridgeSetup,
  type EmulatorCall,
  type EmulatorProcess,
  type Spawned,
} from '../e2e/processes.ts';

/**
 * Found by the chaos run (issue 12): a bridge restarted while the portal is unreachable could not
 * read the portal's users, so it knew no extension until its next directory refresh (15 minutes by
 * default), and every call answered meanwhile was logged to the default user instead of the agent
 * who took it. The bridge now keeps the last directory it read beside its store and starts from it.
 */
describe('a bridge restarted during an outage', () => {
  const tmp = tempDir('b24-chaos-directory-');
  let emulator: EmulatorProcess;
  let setup: BridgeSetup;
  let bridge: Spawned | undefined;

  beforeAll(async () => {
    emulator = await startEmulatorProcess();
    setup = writeBridgeConfig(emulator.url, tmp.dir, await freePort());
    bridge = await startBridgeProcess(setup);
    await installBridge(emulator, setup);
  });

  afterAll(async () => {
    await stop(bridge);
    await stop(emulator);
    tmp.cleanup();
  });

  it('logs a call to the agent who answered it, not to the default user', async () => {
    await emulator.control('faults', { outage: 'refuse' });
    await stop(bridge, 'SIGKILL');
    bridge = await startBridgeProcess(setup);
    expect(bridge.output()).toMatch(/cannot read its users/);

    // Extension 101 (Anna, user 2) answers while the portal is still down.
    const call = pbxCall('restart', 0, Math.floor((Date.now() - 60_000) / 1000) * 1000);
    const res = await sendEvents(setup.url, [...call.begin, ...call.end]);
    expect(res.status, await res.text()).toBe(202);
    await emulator.control('faults', { outage: null });

    const seen = await waitFor(
      'the call finished in the portal',
      async () => {
        const list = await emulator.inspect<EmulatorCall[]>(`calls?externalCallId=${call.externalCallId}`);
        return list.find((c) => c.finished);
      },
      30_000,
    );
    expect(call.userId).toBe(2);
    expect(seen).toMatchObject({ userId: call.userId, finishedBy: call.userId, duration: call.durationSec });
  }, 60_000);
});
