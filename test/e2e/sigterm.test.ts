/**
 * A clean stop: `b24-bridge serve` ends on SIGTERM within its grace whatever is open, a long poll
 * the PBX aborted, one still waiting, a request in the middle. A stop that hangs is killed by
 * the supervisor, and everything the instance held waits out its leases.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  freePort,
  installBridge,
  startBridgeProcess,
  startEmulatorProcess,
  stop,
  tempDir,
  writeBridgeConfig,
  type EmulatorProcess,
} from './processes.ts';

const auth = { authorization: 'Bearer demo-token' };

describe('SIGTERM', () => {
  const tmp = tempDir('b24-e2e-sigterm-');
  let emulator: EmulatorProcess;

  beforeAll(async () => {
    emulator = await startEmulatorProcess();
  });

  afterAll(async () => {
    await stop(emulator);
    tmp.cleanup();
  });

  it('ends the process within the grace although long polls were aborted and others still wait', async () => {
    const setup = writeBridgeConfig(emulator.url, tmp.dir, await freePort());
    const bridge = await startBridgeProcess(setup);
    try {
      await installBridge(emulator, setup);
      // The PBX gives up on a long poll (its own timeout, a restart): the request is aborted.
      for (let i = 0; i < 3; i++) {
        const aborted = new AbortController();
        const poll = fetch(`${setup.url}/pbx/v1/commands?wait=25`, { headers: auth, signal: aborted.signal });
        await new Promise((r) => setTimeout(r, 100));
        aborted.abort();
        await poll.catch(() => undefined);
      }
      // And one is still waiting when the stop comes.
      const waiting = fetch(`${setup.url}/pbx/v1/commands?wait=25`, { headers: auth }).then(
        (r) => r.status,
        () => 'closed' as const,
      );
      await new Promise((r) => setTimeout(r, 200));
      const started = Date.now();
      bridge.child.kill('SIGTERM');
      const code = await Promise.race([
        bridge.exited,
        new Promise<'hung'>((r) => setTimeout(() => r('hung'), 10_000)),
      ]);
      expect(code, bridge.output()).toBe(0);
      // The bridge cuts what is left at 3 s; a clean stop needs none of that.
      expect(Date.now() - started).toBeLessThan(2_500);
      // The waiting poll got an answer (an empty list or the connection closed), not a hang.
      expect([200, 503, 'closed']).toContain(await waiting);
    } finally {
      await stop(bridge, 'SIGKILL');
    }
  });
});
