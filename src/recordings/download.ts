/**
 * Outbound-only mode: the portal cannot download a recording from the office (the PBX sits behind
 * the same NAT as the bridge), so the bridge fetches a PBX's recording URL itself, on the office
 * network, and uploads the bytes. The URL was checked when the PBX sent it (its host one of the
 * PBX's `recordingHosts`, or public); redirects are not followed, so it cannot lead elsewhere.
 */

/** A recording download that failed: retried by the outbox like any other passing fault. */
class RecordingDownloadError extends Error {
  readonly code = 'RECORDING_DOWNLOAD_FAILED';
  constructor(message: string) {
    super(message);
    this.name = 'RecordingDownloadError';
  }
}

interface DownloadOptions {
  /** A recording larger than this is refused (the store's limit for uploaded ones). */
  maxBytes: number;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/** The bytes at `url`, or a RecordingDownloadError (never the URL's query in the message: it may hold a token). */
export async function downloadRecording(url: string, options: DownloadOptions): Promise<Uint8Array> {
  const where = (() => {
    try {
      const u = new URL(url);
      return `${u.origin}${u.pathname}`;
    } catch {
      return 'the recording URL';
    }
  })();
  let res: Response;
  try {
    res = await (options.fetch ?? fetch)(url, {
      redirect: 'error',
      signal: AbortSignal.timeout(options.timeoutMs ?? 60_000),
    });
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).name;
    throw new RecordingDownloadError(`${where}: ${cause}`);
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new RecordingDownloadError(`${where}: HTTP ${String(res.status)}`);
  }
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > options.maxBytes) {
    await res.body?.cancel();
    throw new RecordingDownloadError(`${where}: ${String(declared)} bytes, over ${String(options.maxBytes)}`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for await (const chunk of res.body ?? []) {
      size += (chunk as Uint8Array).byteLength;
      if (size > options.maxBytes)
        throw new RecordingDownloadError(`${where}: over ${String(options.maxBytes)} bytes`);
      chunks.push(chunk as Uint8Array);
    }
  } catch (e) {
    if (e instanceof RecordingDownloadError) throw e;
    throw new RecordingDownloadError(`${where}: ${(e as Error).name}`);
  }
  return Buffer.concat(chunks);
}
