/**
 * The bench's PBX: builds the events of calls and posts them to a target's `/pbx/v1/events`, and
 * serves the recordings the portal downloads (RECORD_URL), as a PBX's web server would.
 */
import { createServer, type Server } from 'node:http';
import { PBX_TOKEN } from './office.ts';

export const phoneOf = (n: number): string => `+7916${String(n % 10_000_000).padStart(7, '0')}`;
/** The emulator stores numbers as given; compare digits. */
export const digits = (phone: string): string => phone.replace(/\D/g, '');

const iso = (ms: number): string => new Date(ms).toISOString();

export class Pbx {
  sent = 0;
  constructor(readonly url: string) {}

  /** Posts events; `mark` names the call whose ringing this request carries (overhead figure). */
  async send(events: readonly unknown[], mark?: string): Promise<void> {
    const res = await fetch(`${this.url}/pbx/v1/events`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${PBX_TOKEN}`,
        ...(mark === undefined ? {} : { 'x-bench-call': mark }),
      },
      body: JSON.stringify(events),
    });
    const text = await res.text();
    if (res.status !== 202) throw new Error(`POST /pbx/v1/events: ${res.status} ${text}`);
    this.sent += events.length;
  }

  async route(body: unknown): Promise<void> {
    const res = await fetch(`${this.url}/pbx/v1/route`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${PBX_TOKEN}` },
      body: JSON.stringify(body),
    });
    await res.text();
  }
}

/** One inbound call's events, each stamped with the time it happens. */
export interface CallEvents {
  callId: string;
  from: string;
  started(at: number, to: string, line?: string): unknown;
  ringing(at: number, extensions: readonly string[]): unknown;
  answered(at: number, extension: string): unknown;
  ended(at: number): unknown;
  recording(at: number, url: string): unknown;
  /** The recording's bytes in the event (`contentBase64`): what a PBX the portal cannot reach sends. */
  recordingInline(at: number, content: Uint8Array): unknown;
}

export function callEvents(callId: string, n: number): CallEvents {
  const from = phoneOf(n);
  return {
    callId,
    from,
    started: (at, to, line) => ({
      type: 'call.started',
      callId,
      direction: 'inbound',
      from,
      to,
      ...(line === undefined ? {} : { line }),
      at: iso(at),
    }),
    ringing: (at, extensions) => ({ type: 'call.ringing', callId, extensions: [...extensions], at: iso(at) }),
    answered: (at, extension) => ({ type: 'call.answered', callId, extension, at: iso(at) }),
    ended: (at) => ({ type: 'call.ended', callId, reason: 'completed', at: iso(at) }),
    recording: (at, url) => ({
      type: 'recording.ready',
      callId,
      url,
      filename: `${callId}.mp3`,
      at: iso(at),
    }),
    recordingInline: (at, content) => ({
      type: 'recording.ready',
      callId,
      contentBase64: Buffer.from(content).toString('base64'),
      filename: `${callId}.mp3`,
      at: iso(at),
    }),
  };
}

/** A web server of recordings: any `/r/<name>.mp3` answers a few bytes of "audio". */
/** A few bytes of "audio": what the bench's recordings hold. */
export const RECORDING_BYTES = Buffer.from('ID3\u0003\u0000\u0000\u0000\u0000\u0000\u0000 a bench recording');

export async function startRecordingServer(): Promise<{
  url: (callId: string) => string;
  close(): Promise<void>;
}> {
  const body = RECORDING_BYTES;
  const server: Server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'audio/mpeg', 'content-length': body.length }).end(body);
    req.resume();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: (callId) => `http://127.0.0.1:${port}/r/${encodeURIComponent(callId)}.mp3`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
