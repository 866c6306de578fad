import { describe, expect, it } from 'vitest';
import {
  installedBridge,
  pbxCall,
  sendEvents,
  startBridgeProcess,
  stop,
  waitFor,
  type EmulatorCall,
} from '../e2e/processes.ts';

/**
 * Found by the chaos run: a bridge restarted while the portal is unreachable could not
 * read the portal's users, so it knew no extension until its next directory refresh (15 minutes by
 * default), and every call answered meanwhile was logged to the default user instead of the agent
 * who took it. The bridge now keeps the last directory it read beside its store and starts from it.
 */
describe('a bridge restarted during an outage', () => {
  const t = installedBridge('b24-chaos-directory-');

  it('logs a call to the agent who answered it, not to the default user', async () => {
    await t.emulator.control('faults', { outage: 'refuse' });
    await stop(t.bridge, 'SIGKILL');
    t.bridge = await startBridgeProcess(t.setup);
    expect(t.bridge.output()).toMatch(/cannot read its users/);

    // Extension 101 (Anna, user 2) answers while the portal is still down.
    const call = pbxCall('restart', 0, Math.floor((Date.now() - 60_000) / 1000) * 1000);
    const res = await sendEvents(t.setup.url, [...call.begin, ...call.end]);
    expect(res.status, await res.text()).toBe(202);
    await t.emulator.control('faults', { outage: null });

    const seen = await waitFor(
      'the call finished in the portal',
      async () => {
        const list = await t.emulator.inspect<EmulatorCall[]>(`calls?externalCallId=${call.externalCallId}`);
        return list.find((c) => c.finished);
      },
      30_000,
    );
    expect(call.userId).toBe(2);
    expect(seen).toMatchObject({ userId: call.userId, finishedBy: call.userId, duration: call.durationSec });
  }, 60_000);
});
