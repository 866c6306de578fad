import BetterSqlite3 from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import {
  installedBridge,
  pbxCall,
  sendEvents,
  startBridgeProcess,
  stop,
  waitFor,
  type EmulatorCall,
} from './processes.ts';

/**
 * A full disk, with a real process: the bridge runs under a file size limit (ulimit -f),
 * so once its database has grown to the limit every write fails as on a full disk. The PBX event
 * that cannot be stored is refused with 503 and a JSON error, and nothing of it is stored; after a
 * restart with room again, the PBX's repeat is taken and the call reaches the portal once.
 * (A read-only file cannot be shown with a running process: it holds the file open for writing,
 * and chmod does not stop root; test/outbox/store-unwritable.test.ts covers it in-process.)
 */
describe.skipIf(process.platform === 'win32')('a full disk as a process: the PBX gets 503', () => {
  // 800 blocks: 400 KiB (512-byte blocks, POSIX sh) or 800 KiB (bash): room for the schema (with the
  // journal and admin tables) and
  // the install (under 100 KiB of WAL), then full after some tens of events.
  const t = installedBridge('b24-e2e-full-', { fileSizeLimitBlocks: 800 });

  it('refuses the event it cannot store, stores nothing of it, and takes the repeat later', async () => {
    const base = Math.floor((Date.now() - 3600_000) / 1000) * 1000;
    let refused: {
      call: ReturnType<typeof pbxCall>;
      events: unknown[];
      status: number;
      body: unknown;
    } | null = null;
    let acceptedEvents = 0;
    for (let n = 0; n < 300 && refused === null; n++) {
      const call = pbxCall('full', n, base + n * 10_000);
      for (const events of [call.begin, call.end]) {
        // One event to a request: a refusal then names exactly the event that was not stored.
        for (const event of events) {
          const res = await sendEvents(t.setup.url, [event]);
          if (res.status === 202) {
            acceptedEvents += 1;
            await res.body?.cancel();
            continue;
          }
          refused = { call, events: [event], status: res.status, body: await res.json() };
          break;
        }
        if (refused !== null) break;
      }
    }
    expect(refused, 'the store never filled up').not.toBeNull();
    if (refused === null) return;
    expect(refused.status).toBe(503);
    // EFBIG from the file size limit is SQLite's I/O error (STORE_UNAVAILABLE); ENOSPC is STORE_FULL.
    const { error } = refused.body as { error: { code: string; message: string } };
    expect(error.code).toMatch(/^STORE_(FULL|UNAVAILABLE)$/);
    expect(error.message).toMatch(/^not stored, repeat later/);

    // Nothing half-applied: the journal holds exactly the acknowledged events, not the refused one.
    await stop(t.bridge, 'SIGKILL');
    const db = new BetterSqlite3(t.setup.sqlitePath, { readonly: true });
    const inputs = db.prepare("SELECT payload FROM inputs WHERE type LIKE 'call.%'").all() as {
      payload: string;
    }[];
    db.close();
    expect(inputs).toHaveLength(acceptedEvents);
    const refusedEvent = refused.events[0] as { callId: string; type: string };
    expect(
      inputs.some((r) => {
        const p = JSON.parse(r.payload) as { callId?: string; type?: string };
        return p.callId === refusedEvent.callId && p.type === refusedEvent.type;
      }),
    ).toBe(false);

    // Room again: the PBX repeats the refused request and the rest of that call; it is logged once.
    t.bridge = await startBridgeProcess(t.setup);
    const call = refused.call;
    for (const events of [call.begin, call.end]) {
      const res = await sendEvents(t.setup.url, events);
      expect(res.status, await res.clone().text()).toBe(202);
    }
    const logged = await waitFor('the refused call finished in the portal', async () => {
      const list = await t.emulator.inspect<EmulatorCall[]>(
        `calls?externalCallId=${encodeURIComponent(call.externalCallId)}`,
      );
      return list[0]?.finished === true ? list : undefined;
    });
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ duration: call.durationSec, userId: call.userId });
    console.log(
      `e2e full disk: ${acceptedEvents} events stored, then ${refused.status} ${JSON.stringify(refused.body)}`,
    );
  }, 60_000);
});
