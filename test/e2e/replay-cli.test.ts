import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  bridgeBin,
  entryCounts,
  installedBridge,
  linkOf,
  pbxCall,
  sendEvents,
  stop,
  waitFor,
  type EmulatorCall,
} from './processes.ts';

const run = promisify(execFile);

/** `b24-bridge replay`: what waits after an outage, then its delivery by the command itself. */
describe('b24-bridge replay as a process', () => {
  const t = installedBridge('b24-e2e-replay-');

  it('shows the backlog with --dry-run, then delivers it', async () => {
    await t.emulator.control('faults', { outage: 'refuse' });
    const base = Math.floor((Date.now() - 3600_000) / 1000) * 1000;
    const calls = Array.from({ length: 20 }, (_, n) => pbxCall('replay', n, base + n * 10_000));
    const res = await sendEvents(
      t.setup.url,
      calls.flatMap((c) => [...c.begin, ...c.end]),
    );
    expect(res.status).toBe(202);
    await waitFor('the link down', async () => ((await linkOf(t.setup.url)) === 'down' ? true : undefined));
    await waitFor('nothing in flight', () =>
      Promise.resolve((entryCounts(t.setup.sqlitePath).in_flight ?? 0) === 0 ? true : undefined),
    );
    await stop(t.bridge);
    await t.emulator.control('faults', { outage: null });

    const dry = await run(process.execPath, [
      bridgeBin,
      'replay',
      '--config',
      t.setup.configPath,
      '--dry-run',
    ]);
    expect(dry.stdout).toMatch(
      new RegExp(`portal ${t.memberId} .*: \\d+ pending, 0 in flight, 20 calls affected, oldest `),
    );
    expect(dry.stdout).toContain('dry run: nothing was sent');
    expect(await t.emulator.inspect<EmulatorCall[]>('calls')).toHaveLength(0);

    const real = await run(process.execPath, [
      bridgeBin,
      'replay',
      '--config',
      t.setup.configPath,
      '--portal',
      t.memberId,
    ]);
    expect(real.stdout).toMatch(/entries settled \(100%\)/);
    expect(real.stdout).toContain('nothing waits now');
    const seen = await t.emulator.inspect<EmulatorCall[]>('calls');
    expect(seen).toHaveLength(20);
    for (const c of calls) {
      expect(seen.find((s) => s.externalCallId === c.externalCallId)).toMatchObject({
        // A reopened outbox treats calls that ended before it as an outage would: no card.
        shown: false,
        finished: true,
        duration: c.durationSec,
        userId: c.userId,
      });
    }
    const after = await run(process.execPath, [
      bridgeBin,
      'replay',
      '--config',
      t.setup.configPath,
      '--dry-run',
    ]);
    expect(after.stdout).toContain('nothing waits');

    const unknown = await run(process.execPath, [
      bridgeBin,
      'replay',
      '--config',
      t.setup.configPath,
      '--portal',
      'nope',
    ]).catch((e: unknown) => e as { code: number; stderr: string });
    expect(unknown).toMatchObject({ code: 1 });
    expect((unknown as { stderr: string }).stderr).toContain('REPLAY_UNKNOWN_PORTAL');
  }, 60_000);
});
