/**
 * The PBX's recordings, served over HTTP the way a real PBX exposes them: the bridge is told the
 * URL in `recording.ready` and fetches the file itself (and hands it on to Bitrix24).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A valid WAV: `seconds` of a quiet 440 Hz tone, 8 kHz 8-bit mono, small enough to pass around. */
export function wavFile(seconds = 1): Buffer {
  const rate = 8000;
  const samples = Math.round(rate * seconds);
  const file = Buffer.alloc(44 + samples);
  file.write('RIFF', 0, 'ascii');
  file.writeUInt32LE(36 + samples, 4);
  file.write('WAVE', 8, 'ascii');
  file.write('fmt ', 12, 'ascii');
  file.writeUInt32LE(16, 16); // fmt chunk size
  file.writeUInt16LE(1, 20); // PCM
  file.writeUInt16LE(1, 22); // mono
  file.writeUInt32LE(rate, 24);
  file.writeUInt32LE(rate, 28); // bytes per second
  file.writeUInt16LE(1, 32); // block align
  file.writeUInt16LE(8, 34); // bits per sample
  file.write('data', 36, 'ascii');
  file.writeUInt32LE(samples, 40);
  for (let i = 0; i < samples; i++)
    file[44 + i] = 128 + Math.round(20 * Math.sin((2 * Math.PI * 440 * i) / rate));
  return file;
}

export interface RecordingServerOptions {
  /** Default 0: any free port. */
  readonly port?: number;
  readonly host?: string;
  /** The base URL the bridge should use, when it is not `http://host:port` (a container, a proxy). */
  readonly publicUrl?: string;
  /** Upload each recording in `recording.ready` (`contentBase64`) rather than serve it by URL. */
  readonly upload?: boolean;
}

export interface RecordingServer {
  readonly baseUrl: string;
  /** Makes a call's recording available and answers its URL. */
  add(callId: string): string;
  close(): Promise<void>;
}

const ROUTE = /^\/recordings\/([^/?#]+)\.wav$/;

export async function startRecordingServer(
  options: RecordingServerOptions,
  onFetched: (callId: string) => void,
): Promise<RecordingServer> {
  const files = new Map<string, Buffer>();
  const server: Server = createServer((request, response) => {
    const match = ROUTE.exec(request.url ?? '');
    const name = match?.[1] === undefined ? undefined : decodeURIComponent(match[1]);
    const file = name === undefined ? undefined : files.get(name);
    if ((request.method !== 'GET' && request.method !== 'HEAD') || name === undefined || file === undefined) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('no such recording\n');
      return;
    }
    response.writeHead(200, { 'content-type': 'audio/wav', 'content-length': file.length });
    response.end(request.method === 'HEAD' ? undefined : file);
    onFetched(name);
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const baseUrl = (options.publicUrl ?? `http://${host}:${port}`).replace(/\/+$/, '');
  // Every call gets the same short file: the bytes do not matter, only that they are a real WAV.
  const wav = wavFile();
  return {
    baseUrl,
    add(callId) {
      files.set(callId, wav);
      return `${baseUrl}/recordings/${encodeURIComponent(callId)}.wav`;
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
