import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemo, type Demo } from '../../src/cli/index.ts';

/** The extension map: every active user, all pages; a failed refresh keeps the last good map. */
describe('the extension map', () => {
  let demo: Demo;
  beforeAll(async () => {
    demo = await startDemo({ port: 0, emulatorPort: 0, simulator: false });
  });
  afterAll(async () => {
    await demo.close();
  });

  it('holds the active users, with and without an extension, and survives a failed refresh', async () => {
    const runtime = [...demo.bridge.portals.values()][0]!;
    const good = runtime.directory.users.map((u) => [u.id, u.extension]);
    expect(good).toEqual(
      expect.arrayContaining([
        [2, '101'],
        [3, '102'],
        [6, null],
      ]),
    );
    expect(runtime.directory.error).toBeNull();

    const faults = await fetch(`${demo.emulatorUrl}/_emulator/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ next: [{ kind: 'error', method: 'user.get', count: 10 }] }),
    });
    expect(faults.ok).toBe(true);
    const failed = await runtime.refreshDirectory();
    expect(failed.error).not.toBeNull();
    expect(failed.users.map((u) => [u.id, u.extension])).toEqual(good);

    await fetch(`${demo.emulatorUrl}/_emulator/faults`, { method: 'DELETE' });
    const again = await runtime.refreshDirectory();
    expect(again.error).toBeNull();
    expect(again.users.map((u) => [u.id, u.extension])).toEqual(good);
  });
});
