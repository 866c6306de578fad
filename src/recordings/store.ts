/**
 * Recordings a PBX uploaded inline (`recording.ready` with `contentBase64`), kept as files until the
 * portal has fetched them by URL (`GET /recordings/<ref>`; Bitrix24's attachRecord by RECORD_URL
 * downloads it itself, and unlike a file upload it can ride in a batch).
 *
 * The ref is an HMAC of the content under a secret kept beside the files: the same recording stored
 * twice is one file (a PBX's repeat stores nothing new), and nobody who lacks the secret can guess
 * a ref, even one who knows the recording. The secret survives restarts so stored refs stay valid.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RecordingUpload } from '../pbx/webhook/index.ts';

/** Refs as this store makes them: 64 hex digits. Anything else is refused before the disk is touched. */
const refPattern = /^[0-9a-f]{64}$/;

export class RecordingStoreError extends Error {
  readonly code: 'RECORDING_TOO_LARGE' | 'RECORDING_NOT_FOUND' | 'RECORDING_IO';
  constructor(code: RecordingStoreError['code'], message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RecordingStoreError';
    this.code = code;
  }
}

export interface RecordingFile {
  content: Buffer;
  filename: string | undefined;
}

export class RecordingStore {
  private constructor(
    private readonly dir: string,
    private readonly secret: Buffer,
    readonly maxBytes: number,
  ) {}

  /** Opens (creating) the directory; `maxBytes` caps one recording. */
  static async open(dir: string, maxBytes = 64 * 1024 * 1024): Promise<RecordingStore> {
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const secretPath = join(dir, '.secret');
      let secret: Buffer;
      try {
        secret = await readFile(secretPath);
      } catch {
        secret = randomBytes(32);
        // wx: two processes opening one directory at once keep the first secret.
        await writeFile(secretPath, secret, { mode: 0o600, flag: 'wx' }).catch(() => undefined);
        secret = await readFile(secretPath);
      }
      return new RecordingStore(dir, secret, maxBytes);
    } catch (cause) {
      throw new RecordingStoreError('RECORDING_IO', `cannot open the recordings directory ${dir}`, { cause });
    }
  }

  /** Stores the bytes and answers their ref; the same bytes answer the same ref. */
  async put(upload: RecordingUpload): Promise<string> {
    if (upload.content.byteLength > this.maxBytes)
      throw new RecordingStoreError(
        'RECORDING_TOO_LARGE',
        `the recording has ${String(upload.content.byteLength)} bytes, over ${String(this.maxBytes)}`,
      );
    const ref = createHmac('sha256', this.secret).update(upload.content).digest('hex');
    const path = join(this.dir, ref);
    try {
      // Written aside and renamed: a reader never sees half a file, and a crash leaves no ref.
      const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
      await writeFile(tmp, upload.content, { mode: 0o600 });
      await rename(tmp, path);
      if (upload.filename !== undefined) await writeFile(`${path}.name`, upload.filename, { mode: 0o600 });
    } catch (cause) {
      throw new RecordingStoreError('RECORDING_IO', 'the recording could not be written', { cause });
    }
    return ref;
  }

  async get(ref: string): Promise<RecordingFile> {
    if (!refPattern.test(ref)) throw new RecordingStoreError('RECORDING_NOT_FOUND', 'no such recording');
    const path = join(this.dir, ref);
    try {
      const content = await readFile(path);
      const filename = await readFile(`${path}.name`, 'utf8').catch(() => undefined);
      return { content, filename };
    } catch (cause) {
      const missing = (cause as { code?: string }).code === 'ENOENT';
      throw new RecordingStoreError(missing ? 'RECORDING_NOT_FOUND' : 'RECORDING_IO', 'no such recording', {
        cause,
      });
    }
  }

  async has(ref: string): Promise<boolean> {
    if (!refPattern.test(ref)) return false;
    return stat(join(this.dir, ref)).then(
      () => true,
      () => false,
    );
  }
}
