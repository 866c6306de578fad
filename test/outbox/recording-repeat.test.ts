import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type EngineInput } from '../../src/core/index.ts';
import { Outbox, type OutboxApi } from '../../src/outbox/index.ts';
import { SqliteStore } from '../../src/store/index.ts';
import { startHarness, type Harness } from '../bitrix/helpers.ts';
import { config, inboundCall, tempDir, timeOf } from './helpers.ts';

interface PortalCall {
  externalCallId: string | null;
  recordings: { fileId: number }[];
}

/** The office, waiting for the recording before it finishes a call. */
const recorded = { ...config, recording: { maxWaitSec: 60, hideGraceSec: 0 } };

/** The portal's API, with the recording's upload lost on its way (a process killed mid-send). */
function uploadsLost(api: OutboxApi): OutboxApi {
  return {
    externalCall: {
      ...api.externalCall,
      register: (p, o) => api.externalCall.register(p, o),
      show: (p, o) => api.externalCall.show(p, o),
      hide: (p, o) => api.externalCall.hide(p, o),
      finish: (p, o) => api.externalCall.finish(p, o),
      attachRecordUrl: (p, o) => api.externalCall.attachRecordUrl(p, o),
      searchCrmEntities: (n, o) => api.externalCall.searchCrmEntities(n, o),
      uploadRecord: () => new Promise(() => undefined) as never,
    },
    crm: api.crm,
  };
}

/**
 * attachRecord adds a recording each time it is sent: after a restart, an attach that may have
 * reached the portal is repeated only once the call's CRM activity shows it did not.
 */
describe('an attachRecord left in flight by a dead process', () => {
  let h: Harness;
  const tmp = tempDir();
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h.close();
    tmp.cleanup();
  });

  const bytes = Buffer.from('ID3 a recording of the call');

  const attachedRow = (store: SqliteStore) =>
    store.database
      .prepare("SELECT status, attempts, result FROM outbox_entries WHERE kind = 'attachRecord'")
      .get() as { status: string; attempts: number; result: string | null } | undefined;

  async function run(name: string, n: number, first: OutboxApi) {
    const store = await SqliteStore.open({ path: join(tmp.dir, name) });
    const open = (api: OutboxApi): Promise<Outbox> =>
      Outbox.open({
        portalId: h.memberId,
        store,
        engine: createEngine(recorded),
        api,
        recordings: () => Promise.resolve(bytes),
      });
    const call = inboundCall(n, Date.now() - 60_000);
    const ended = timeOf(call.inputs.at(-1)!.input);
    const ready: EngineInput = {
      type: 'recording.ready',
      callId: call.callId,
      at: ended + 1000,
      contentRef: `rec-${n}`,
      filename: `call-${n}.mp3`,
    };
    const a = await open(first);
    // Resolves once the attach has been handed to the client (marked in flight first).
    const attachSent = new Promise<void>((resolve) => {
      a.on('submitted', () => {
        if (attachedRow(store)?.status === 'in_flight') resolve();
      });
    });
    for (const { input, dedupeKey } of [...call.inputs, { input: ready, dedupeKey: `${call.callId}/rec` }])
      await a.accept(input, { dedupeKey, now: timeOf(input) });
    return { store, a, open, call, attachSent };
  }

  const recordingsOf = async (externalCallId: string): Promise<number> => {
    const calls = await h.inspect<PortalCall[]>('calls');
    return calls.find((c) => c.externalCallId === externalCallId)?.recordings.length ?? -1;
  };
  it('the recording did arrive: it is not attached a second time', async () => {
    const { store, a, open, call } = await run('arrived.db', 1, h.api);
    await a.whenIdle();
    const key = `${call.callId}@${String(call.startedAt)}`;
    expect(await recordingsOf(key)).toBe(1);
    a.close();
    // The process died after the portal attached it, before the answer was stored.
    store.database
      .prepare("UPDATE outbox_entries SET status = 'in_flight', result = NULL WHERE kind = 'attachRecord'")
      .run();
    h.mark();
    const b = await open(h.api);
    await b.whenIdle();
    expect(await recordingsOf(key)).toBe(1);
    expect(attachedRow(store)).toMatchObject({ status: 'done' });
    const methods = h.requests.flatMap((r) => r.commands);
    expect(methods.filter((m) => /activity\.get/i.test(m))).toHaveLength(1);
    expect(methods.filter((m) => /attachrecord/i.test(m))).toHaveLength(0);
    b.close();
    await store.close();
  });

  it('the recording never left: the check finds none, and it is attached once', async () => {
    const { store, a, open, call, attachSent } = await run('lost.db', 2, uploadsLost(h.api));
    const key = `${call.callId}@${String(call.startedAt)}`;
    // The upload is in flight (after the finish, so the call's activity is known), and never lands.
    await attachSent;
    expect(attachedRow(store)).toMatchObject({ status: 'in_flight', attempts: 1 });
    a.close();
    expect(await recordingsOf(key)).toBe(0);
    const b = await open(h.api);
    await b.whenIdle();
    expect(await recordingsOf(key)).toBe(1);
    expect(attachedRow(store)).toMatchObject({ status: 'done' });
    b.close();
    await store.close();
  });
});
