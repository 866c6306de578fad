import { describe, expect, it, vi } from 'vitest';
import { createEngine } from '../../core/index.ts';
import { office } from '../../core/testkit.ts';
import { PbxApiError, parseEvents, toEngineEvents, type ApiEvent, type RecordingUpload } from './index.ts';

const RECEIVED = 1_773_144_100_000;

function events(body: unknown): ApiEvent[] {
  const parsed = parseEvents(body);
  if (!parsed.ok) throw parsed.error;
  return parsed.value;
}

const noStore = () => Promise.reject(new Error('no recordings expected'));

describe('API events → engine inputs', () => {
  it('turns ISO `at` into epoch ms, with its offset, and defaults it to the arrival time', async () => {
    const inputs = await toEngineEvents(
      events([
        { type: 'call.ended', callId: 'a', at: '2026-03-10T12:00:00Z' },
        { type: 'call.ended', callId: 'b', at: '2026-03-10T15:00:00.250+03:00' },
        { type: 'call.ended', callId: 'c', at: '2026-03-10T12:00:00.123456Z' },
        { type: 'call.ended', callId: 'd' },
        { type: 'call.ended', callId: 'e', at: null },
      ]),
      { receivedAt: RECEIVED, storeRecording: noStore },
    );
    expect(inputs.map((i) => i.at)).toEqual([
      1_773_144_000_000,
      1_773_144_000_250,
      1_773_144_000_123,
      RECEIVED,
      RECEIVED,
    ]);
  });

  it('drops nulls and unknown fields, keeps the engine shape', async () => {
    const [input] = await toEngineEvents(
      events({
        type: 'call.started',
        callId: 'c1',
        direction: 'inbound',
        from: '+79161234567',
        to: '+74950000001',
        line: null,
        extra: true,
      }),
      { receivedAt: RECEIVED, storeRecording: noStore },
    );
    expect(input).toEqual({
      type: 'call.started',
      callId: 'c1',
      at: RECEIVED,
      direction: 'inbound',
      from: '+79161234567',
      to: '+74950000001',
    });
  });

  it('stores inline recordings and passes only a contentRef to the engine', async () => {
    const uploads: RecordingUpload[] = [];
    const storeRecording = vi.fn((upload: RecordingUpload) => {
      uploads.push(upload);
      return Promise.resolve(`blob:${uploads.length}`);
    });
    const inputs = await toEngineEvents(
      events([
        { type: 'recording.ready', callId: 'c1', contentBase64: 'AAECAw==', filename: 'c1.wav' },
        { type: 'recording.ready', callId: 'c2', url: 'https://pbx.example/c2.mp3' },
      ]),
      { receivedAt: RECEIVED, storeRecording },
    );
    expect(uploads).toHaveLength(1);
    expect(uploads[0]?.callId).toBe('c1');
    expect(uploads[0]?.filename).toBe('c1.wav');
    expect([...(uploads[0]?.content ?? [])]).toEqual([0, 1, 2, 3]);
    expect(inputs).toEqual([
      { type: 'recording.ready', callId: 'c1', at: RECEIVED, contentRef: 'blob:1', filename: 'c1.wav' },
      { type: 'recording.ready', callId: 'c2', at: RECEIVED, url: 'https://pbx.example/c2.mp3' },
    ]);
    expect(JSON.stringify(inputs)).not.toContain('AAECAw');
  });

  it('refuses the whole batch when a recording cannot be stored', async () => {
    const failure = new Error('disk full');
    const conversion = toEngineEvents(
      events([
        { type: 'call.ended', callId: 'c1' },
        { type: 'recording.ready', callId: 'c1', contentBase64: 'AAAA' },
      ]),
      { receivedAt: RECEIVED, storeRecording: () => Promise.reject(failure) },
    );
    await expect(conversion).rejects.toBeInstanceOf(PbxApiError);
    await expect(conversion).rejects.toMatchObject({
      code: 'RECORDING_NOT_STORED',
      path: '/1/contentBase64',
      cause: failure,
    });
  });

  it('feeds the engine: a Sales call from the API registers at once (S3)', async () => {
    const engine = createEngine(office);
    const [input] = await toEngineEvents(
      events({
        type: 'call.started',
        callId: 'c1',
        direction: 'inbound',
        from: '+79160000000',
        to: '+74950000001',
      }),
      { receivedAt: RECEIVED, storeRecording: noStore },
    );
    const { effects } = engine.step(engine.initialState(), input!, RECEIVED);
    expect(effects.some((e) => e.type === 'bitrix.register')).toBe(true);
  });
});
