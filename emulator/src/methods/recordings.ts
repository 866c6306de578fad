import { core } from '../errors.ts';
import type { Call, StoredFile } from '../portal/model.ts';
import type { Portal } from '../portal/portal.ts';

const DOWNLOAD_TIMEOUT_MS = 30_000;
const MAX_RECORDING_BYTES = 256 * 1024 * 1024;

export function checkRecordName(filename: string): void {
  if (filename.trim() === '') throw core('File name is empty');
  const ext = filename.toLowerCase().split('.').pop();
  if (!filename.includes('.') || (ext !== 'wav' && ext !== 'mp3')) {
    throw core('Wrong file extension. Only wav and mp3 are allowed');
  }
}

/** Bitrix downloads RECORD_URL itself; a non-200 answer or a network failure is the caller's error. */
export async function downloadRecording(
  url: string,
  filename: string | undefined,
  unreachable = false,
): Promise<{ filename: string; content: Buffer }> {
  let response: Response;
  try {
    if (unreachable)
      throw Object.assign(new TypeError('fetch failed'), {
        cause: { code: 'ECONNREFUSED', message: 'connect ECONNREFUSED' },
      });
    response = await fetch(url, { signal: AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS), redirect: 'follow' });
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    const code = cause?.code ?? (e as { name?: string }).name ?? 'ERROR';
    throw core(`${code}: ${cause?.message ?? (e as Error).message}`);
  }
  if (response.status !== 200) {
    await response.body?.cancel();
    throw core(`Server returns HTTP error code ${response.status}`);
  }
  const content = Buffer.from(await response.arrayBuffer());
  if (content.length > MAX_RECORDING_BYTES) throw core('File is too large');
  let name = filename;
  if (!name) {
    try {
      name = decodeURIComponent(new URL(url).pathname.split('/').pop() ?? '');
    } catch {
      name = '';
    }
  }
  return { filename: name, content };
}

/** Stores the file and makes it the call's recording; a later one replaces it on the activity. */
export function attachFile(
  portal: Portal,
  call: Call,
  filename: string,
  content: Buffer,
  sourceUrl: string | null = null,
): StoredFile {
  const file = portal.storeFile(filename, content, call.callId);
  call.recordings.push({
    fileId: file.id,
    filename,
    size: file.size,
    sha256: file.sha256,
    at: portal.clock.now(),
    sourceUrl,
  });
  if (call.crmActivityId !== null) {
    const activity = portal.activities.get(call.crmActivityId);
    if (activity) activity.storageElementIds = [file.id];
  }
  portal.emit('call', { kind: 'recording', call });
  return file;
}
