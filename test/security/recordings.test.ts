/**
 * Recordings and the URLs around them. An uploaded recording is written only for a call the bridge
 * knows, is fetched by the portal through a signed link that expires, is deleted after the
 * retention time and at uninstall. A recording URL a PBX names must point at a public address
 * (checked after DNS resolution) unless the PBX's allow-list names the host: the portal fetches
 * whatever it is given.
 */
import { existsSync, readdirSync, statSync, utimesSync } from 'node:fs';
import { lookup } from 'node:dns/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { pbxEvents, startOffice, until, type EmulatedPortal, type Office } from './office.ts';

const LAN_PBX = 'lan-pbx-token-0123456789abc';

interface RecordingView {
  externalCallId: string | null;
  sha256: string;
  sourceUrl: string | null;
}

/** Every recording file the bridge keeps (not its secret, not the file names beside them). */
function recordingFiles(office: Office): string[] {
  const root = join(office.dir, 'recordings');
  if (!existsSync(root)) return [];
  const walk = (dir: string): string[] =>
    readdirSync(dir).flatMap((name) => {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) return walk(path);
      return /^[0-9a-f]{64}$/.test(name) ? [path] : [];
    });
  return walk(root);
}

describe('recordings', () => {
  let office: Office;
  let portal: EmulatedPortal;
  let link = '';

  const at = (sec: number) => new Date(Date.now() - 60_000 + sec * 1000).toISOString();
  const recordedCall = async (callId: string, content: string) => {
    const res = await pbxEvents(office.bridge, [
      { type: 'call.started', callId, direction: 'inbound', from: '+79165550199', to: '101', at: at(0) },
      { type: 'call.answered', callId, extension: '101', at: at(2) },
      { type: 'call.ended', callId, reason: 'completed', at: at(20) },
      {
        type: 'recording.ready',
        callId,
        contentBase64: Buffer.from(content).toString('base64'),
        filename: `${callId}.mp3`,
      },
    ]);
    expect(res.status).toBe(202);
    return until(`the recording of ${callId} at the portal`, async () => {
      const recordings = (await portal.control<RecordingView[]>('recordings')).body;
      return recordings.find((r) => r.externalCallId?.startsWith(`${callId}@`));
    });
  };

  beforeAll(async () => {
    office = await startOffice({
      configure: (doc) => ({
        ...doc,
        pbx: [
          ...doc.pbx,
          // An office PBX on the LAN whose recordings sit on this machine: its allow-list opens them.
          { id: 'lan', token: LAN_PBX, recordingHosts: ['127.0.0.1'] },
        ],
      }),
    });
    portal = office.portals[0]!;
  });
  afterAll(async () => {
    vi.useRealTimers();
    await office.close();
  });

  it('an upload for a call the bridge does not know writes nothing: 409 naming the call', async () => {
    const res = await pbxEvents(office.bridge, {
      type: 'recording.ready',
      callId: 'never-started',
      contentBase64: Buffer.from('RIFF-unknown').toString('base64'),
      filename: 'x.wav',
    });
    expect(res.status).toBe(409);
    expect(res.json()).toMatchObject({ error: { code: 'UNKNOWN_CALL', path: '/callId' } });
    expect(recordingFiles(office)).toEqual([]);
  });

  it('the portal fetches an upload through a signed link; a link without its signature, or altered, finds nothing', async () => {
    const recording = await recordedCall('rec-1', 'RIFF-rec-1');
    expect(recordingFiles(office)).toHaveLength(1);
    link = recording.sourceUrl ?? '';
    expect(link).toMatch(/\/recordings\/[0-9a-f-]+\?expires=\d+&sig=[\w-]+$/);
    const ok = await fetch(link);
    expect(ok.status).toBe(200);
    expect(Buffer.from(await ok.arrayBuffer()).toString()).toBe('RIFF-rec-1');
    const url = new URL(link);
    const bare = `${url.origin}${url.pathname}`;
    expect((await fetch(bare)).status).toBe(404);
    expect(
      (await fetch(`${bare}?expires=${url.searchParams.get('expires')}&sig=${'A'.repeat(43)}`)).status,
    ).toBe(404);
    const later = String(Number(url.searchParams.get('expires')) + 86_400);
    expect((await fetch(`${bare}?expires=${later}&sig=${url.searchParams.get('sig')}`)).status).toBe(404);
  });

  it('a link expires: a day later the same URL answers 403', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 25 * 3600_000 });
    try {
      const res = await fetch(link);
      expect(res.status).toBe(403);
      expect(await res.json()).toMatchObject({ error: { code: 'RECORDING_LINK_EXPIRED' } });
    } finally {
      vi.useRealTimers();
    }
  });

  it('is deleted when it is older than the retention (30 days by default)', async () => {
    const [file] = recordingFiles(office);
    const old = (Date.now() - 31 * 86_400_000) / 1000;
    utimesSync(file!, old, old);
    await office.restart();
    await until('the retention sweep', () => (recordingFiles(office).length === 0 ? true : undefined));
    // The same link at the restarted bridge (a port of its own now): still signed, nothing behind it.
    const moved = new URL(link);
    const res = await fetch(`${office.bridge.url}${moved.pathname}${moved.search}`);
    expect(res.status).toBe(404);
  });

  it('recording URLs to the loopback, private, link-local and metadata addresses are refused; nothing is stored', async () => {
    const resolvesToLoopback = (await lookup(hostname(), { all: true })).every((a) =>
      /^127\.|^::1$/.test(a.address),
    );
    const urls = [
      'http://127.0.0.1:9/r.mp3',
      'http://localhost/r.mp3',
      'http://localhost./r.mp3',
      'http://0x7f000001/r.mp3',
      'http://[::1]/r.mp3',
      'http://[::ffff:127.0.0.1]/r.mp3',
      'http://10.1.2.3/r.mp3',
      'http://192.168.0.10/r.mp3',
      'http://169.254.169.254/latest/meta-data/',
      'http://metadata.google.internal/computeMetadata/v1/',
      'http://[fd00:ec2::254]/latest/',
      // A name that resolves to this machine: checked after resolution.
      ...(resolvesToLoopback ? [`http://${hostname()}:9/r.mp3`] : []),
    ];
    expect(resolvesToLoopback).toBe(true);
    for (const url of urls) {
      const res = await pbxEvents(office.bridge, { type: 'recording.ready', callId: 'rec-url', url });
      expect(res.status, url).toBe(400);
      expect(res.json()).toMatchObject({ error: { code: 'INVALID_VALUE', path: '/url' } });
    }
  });

  it("a PBX's allow-list opens the hosts it names, and only those", async () => {
    const lan = (url: string) =>
      pbxEvents(office.bridge, { type: 'recording.ready', callId: 'rec-lan', url }, LAN_PBX);
    expect((await lan('http://127.0.0.1:9/r.mp3')).status).toBe(202);
    expect((await lan('http://10.1.2.3/r.mp3')).status).toBe(400);
  });
});

describe('recordings at uninstall', () => {
  it('go with the portal: files deleted, links dead', async () => {
    const office = await startOffice();
    try {
      const portal = office.portals[0]!;
      const at = new Date().toISOString();
      await pbxEvents(office.bridge, [
        { type: 'call.started', callId: 'gone-1', direction: 'inbound', from: '+79165550100', to: '101', at },
        { type: 'call.answered', callId: 'gone-1', extension: '101', at },
        { type: 'call.ended', callId: 'gone-1', reason: 'completed', at },
        {
          type: 'recording.ready',
          callId: 'gone-1',
          contentBase64: Buffer.from('RIFF-gone').toString('base64'),
        },
      ]);
      const recording = await until('the recording at the portal', async () => {
        const recordings = (await portal.control<RecordingView[]>('recordings')).body;
        return recordings.find((r) => r.externalCallId?.startsWith('gone-1@'));
      });
      expect(recordingFiles(office)).toHaveLength(1);
      const gone = await portal.control(`apps/${portal.app!.clientId}`, undefined, 'DELETE');
      expect(gone.status).toBe(200);
      expect(office.bridge.portals.size).toBe(0);
      expect(recordingFiles(office)).toEqual([]);
      expect((await fetch(recording.sourceUrl!)).status).toBe(404);
    } finally {
      await office.close();
    }
  });
});
