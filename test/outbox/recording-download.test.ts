import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type EngineInput } from '../../src/core/index.ts';
import { Outbox } from '../../src/outbox/index.ts';
import { downloadRecording } from '../../src/recordings/index.ts';
import { SqliteStore } from '../../src/store/index.ts';
import { startHarness, type Harness } from '../bitrix/helpers.ts';
import { config, inboundCall, tempDir, timeOf } from './helpers.ts';

interface PortalRecording {
  externalCallId: string | null;
  sourceUrl: string | null;
}

const recorded = { ...config, recording: { maxWaitSec: 60, hideGraceSec: 0 } };

/**
 * Outbound-only: the portal cannot download from the office, so a recording the PBX gives by URL
 * is fetched by the bridge and uploaded as a file, never handed to the portal as RECORD_URL.
 */
describe('a recording given by URL, outbound-only', () => {
  let h: Harness;
  let pbx: Server;
  let pbxUrl = '';
  let fetched = 0;
  const tmp = tempDir();
  const bytes = Buffer.from('RIFF a recording on the office PBX');
  beforeAll(async () => {
    h = await startHarness();
    // The portal could reach nothing of the office.
    await h.settings({ unreachableApp: true });
    pbx = createServer((req, res) => {
      fetched++;
      if (new URL(req.url ?? '/', 'http://pbx').pathname === '/rec/1.wav')
        res.writeHead(200, { 'content-type': 'audio/wav' }).end(bytes);
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => pbx.listen(0, '127.0.0.1', resolve));
    pbxUrl = `http://127.0.0.1:${String((pbx.address() as AddressInfo).port)}`;
  });
  afterAll(async () => {
    await h.close();
    await new Promise((r) => pbx.close(r));
    tmp.cleanup();
  });

  it('is fetched by the bridge and uploaded once', async () => {
    const store = await SqliteStore.open({ path: join(tmp.dir, 'download.db') });
    const outbox = await Outbox.open({
      portalId: h.memberId,
      store,
      engine: createEngine(recorded),
      api: h.api,
      recordingDownload: (url) => downloadRecording(url, { maxBytes: 1024 }),
    });
    const call = inboundCall(1, Date.now() - 60_000);
    const ended = timeOf(call.inputs.at(-1)!.input);
    const ready: EngineInput = {
      type: 'recording.ready',
      callId: call.callId,
      at: ended + 1000,
      url: `${pbxUrl}/rec/1.wav`,
      filename: 'call-1.wav',
    };
    for (const { input, dedupeKey } of [...call.inputs, { input: ready, dedupeKey: `${call.callId}/rec` }])
      await outbox.accept(input, { dedupeKey, now: timeOf(input) });
    await outbox.whenIdle();
    const key = `${call.callId}@${String(call.startedAt)}`;
    const recordings = (await h.inspect<PortalRecording[]>('recordings')).filter(
      (r) => r.externalCallId === key,
    );
    expect(recordings).toEqual([expect.objectContaining({ sourceUrl: null })]);
    expect(fetched).toBe(1);
    outbox.close();
    await store.close();
  });

  it('refuses what is not there, or too large', async () => {
    const missing = downloadRecording(`${pbxUrl}/rec/none.wav`, { maxBytes: 1024 });
    await expect(missing).rejects.toThrow(/HTTP 404/);
    await expect(missing).rejects.toMatchObject({ code: 'RECORDING_DOWNLOAD_FAILED' });
    await expect(downloadRecording(`${pbxUrl}/rec/1.wav`, { maxBytes: 10 })).rejects.toMatchObject({
      code: 'RECORDING_DOWNLOAD_FAILED',
    });
    expect(Buffer.from(await downloadRecording(`${pbxUrl}/rec/1.wav?token=x`, { maxBytes: 1024 }))).toEqual(
      bytes,
    );
  });
});
