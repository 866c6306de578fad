/**
 * A finished MixMonitor file as `recording.ready`: either a URL under which the PBX (or a web
 * server beside it) serves its recordings, or the file read from a directory the bridge can see
 * (the same host, or a mount), handed to the bridge's recording store and passed on by reference.
 */
import { readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { StoreRecording } from '../webhook/index.ts';
import type { RecordingReady } from '../types.ts';
import type { RecordingFinished } from './mapper.ts';

export interface RecordingSource {
  /** A directory holding MixMonitor's files (by base name). */
  readonly dir?: string | undefined;
  /** Where the files are served: `<urlBase>/<file name>`. */
  readonly urlBase?: string | undefined;
}

interface RecordingOptions {
  readonly source: RecordingSource;
  readonly storeRecording?: StoreRecording | undefined;
  /** Pause between two looks at a file that is missing or still growing. Default 500 ms. */
  readonly settleMs?: number | undefined;
  /** Looks before giving up on a file. Default 20 (10 s at the default pause). */
  readonly attempts?: number | undefined;
}

/**
 * The file's path below the monitor directory: FreePBX files recordings by day
 * (`/var/spool/asterisk/monitor/2026/11/24/x.wav` → `2026/11/24/x.wav`), plain MixMonitor
 * setups keep them flat (→ the base name). Null when a segment could lead outside the directory:
 * a name from the PBX must never reach other files.
 */
export function recordingPath(file: string): string | null {
  const path = file.replace(/\\/g, '/');
  const at = path.lastIndexOf('/monitor/');
  const relative = at >= 0 ? path.slice(at + '/monitor/'.length) : basename(path);
  const segments = relative.split('/');
  if (segments.some((s) => s === '' || s === '.' || s === '..' || s.includes('\0'))) return null;
  return segments.join('/');
}

/** Resolves to the event, or null when this bridge has no way to reach recordings. */
export async function recordingReady(
  done: RecordingFinished,
  options: RecordingOptions,
  signal?: AbortSignal,
): Promise<RecordingReady | null> {
  const relative = recordingPath(done.file);
  if (relative === null) return null;
  const name = basename(relative);
  const { dir, urlBase } = options.source;
  if (urlBase !== undefined) {
    return {
      type: 'recording.ready',
      callId: done.callId,
      at: done.at,
      url: `${urlBase.replace(/\/+$/, '')}/${relative.split('/').map(encodeURIComponent).join('/')}`,
      filename: name,
    };
  }
  if (dir === undefined || options.storeRecording === undefined) return null;
  const path = join(dir, ...relative.split('/'));
  const settleMs = options.settleMs ?? 500;
  const attempts = options.attempts ?? 20;
  let lastSize = -1;
  for (let i = 0; i < attempts; i++) {
    if (signal?.aborted === true) return null;
    const size = await stat(path).then(
      (s) => s.size,
      () => -1,
    );
    // MixMonitor may still be flushing when the Hangup arrives: the file is complete once it stops growing.
    if (size > 0 && size === lastSize) {
      const content = await readFile(path);
      const contentRef = await options.storeRecording({ callId: done.callId, filename: name, content });
      return { type: 'recording.ready', callId: done.callId, at: done.at, contentRef, filename: name };
    }
    lastSize = size;
    await sleep(i === 0 ? Math.min(settleMs, 50) : settleMs, undefined, { ref: false });
  }
  return null;
}
