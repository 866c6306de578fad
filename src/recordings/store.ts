/**
 * Recordings a PBX uploaded (`recording.ready` with `contentBase64`, or a file the Asterisk adapter
 * read), kept until the portal has fetched them by URL (`GET /recordings/<ref>`; Bitrix24's
 * attachRecord by RECORD_URL downloads it itself, and unlike a file upload it rides in a batch),
 * and for the retention time after, then deleted; all of a portal's go when it uninstalls the app.
 *
 * `RecordingStore` is what the bridge needs of a place for them; `FileRecordingStore` keeps them as
 * files (the default beside SQLite). A store shared by several instances keeps its `linkSecret`
 * shared too, so any instance serves a link another signed.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

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

/** A recording to keep: whose portal, which call, the file. */
export interface NewRecording {
  /** The portal's member_id: its recordings go with it at uninstall. */
  portal: string;
  callId: string;
  filename: string | undefined;
  content: Uint8Array;
}

export interface RecordingStore {
  /** The key download links are signed with; the same for every instance sharing the store. */
  readonly linkSecret: Buffer;
  /** The largest recording accepted, in bytes. */
  readonly maxBytes: number;
  /** Stores the bytes and answers their ref; the same bytes of the same portal answer the same ref. */
  put(recording: NewRecording, now: number): Promise<string>;
  get(ref: string): Promise<RecordingFile>;
  /** Deletes every recording of the portal; answers how many. */
  deletePortal(portal: string): Promise<number>;
  /** Deletes the recordings stored before `before` (epoch ms); answers how many. */
  deleteStoredBefore(before: number): Promise<number>;
}

/** A ref: the portal's folder, then the recording's own digest. Anything else is refused unread. */
export const refPattern = /^([0-9a-f]{32})-([0-9a-f]{64})$/;
/** Refs of recordings stored before they were kept per portal: still served until they expire. */
const flatRefPattern = /^[0-9a-f]{64}$/;
const portalDirPattern = /^[0-9a-f]{32}$/;

/** A portal's key under a store's secret: no name of the portal is kept with its recordings. */
export const portalKeyOf = (secret: Buffer, portal: string): string =>
  createHmac('sha256', secret).update(`portal\0${portal}`).digest('hex').slice(0, 32);

/** A recording's own key: the same bytes of the same portal have the same one. */
export const contentKeyOf = (secret: Buffer, r: Pick<NewRecording, 'portal' | 'content'>): string =>
  createHmac('sha256', secret).update(`${r.portal}\0`).update(r.content).digest('hex');

/** Refused before anything is written. */
export function checkSize(recording: NewRecording, maxBytes: number): void {
  if (recording.content.byteLength > maxBytes)
    throw new RecordingStoreError(
      'RECORDING_TOO_LARGE',
      `the recording has ${String(recording.content.byteLength)} bytes, over ${String(maxBytes)}`,
    );
}

/** The link key a store's secret gives. */
export const linkSecretOf = (secret: Buffer): Buffer =>
  createHmac('sha256', secret).update('recording links').digest();

export class FileRecordingStore implements RecordingStore {
  private constructor(
    private readonly dir: string,
    private readonly secret: Buffer,
    readonly linkSecret: Buffer,
    readonly maxBytes: number,
  ) {}

  /** Opens (creating) the directory; `maxBytes` caps one recording. */
  static async open(dir: string, maxBytes = 64 * 1024 * 1024): Promise<FileRecordingStore> {
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const secret = await keptSecret(join(dir, '.secret'));
      return new FileRecordingStore(dir, secret, linkSecretOf(secret), maxBytes);
    } catch (cause) {
      throw new RecordingStoreError('RECORDING_IO', `cannot open the recordings directory ${dir}`, { cause });
    }
  }

  /** The portal's folder: a keyed digest of its member_id, so no name of it reaches the disk. */
  private folderOf(portal: string): string {
    return portalKeyOf(this.secret, portal);
  }

  async put(recording: NewRecording, now: number): Promise<string> {
    checkSize(recording, this.maxBytes);
    const folder = this.folderOf(recording.portal);
    const digest = contentKeyOf(this.secret, recording);
    const path = join(this.dir, folder, digest);
    try {
      await mkdir(join(this.dir, folder), { recursive: true, mode: 0o700 });
      // Written aside and renamed: a reader never sees half a file, and a crash leaves no ref.
      const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
      await writeFile(tmp, recording.content, { mode: 0o600 });
      // Its time is when it was stored: retention counts from there.
      await utimes(tmp, now / 1000, now / 1000);
      await rename(tmp, path);
      if (recording.filename !== undefined)
        await writeFile(`${path}.name`, recording.filename, { mode: 0o600 });
    } catch (cause) {
      throw new RecordingStoreError('RECORDING_IO', 'the recording could not be written', { cause });
    }
    return `${folder}-${digest}`;
  }

  private pathOf(ref: string): string | null {
    const m = refPattern.exec(ref);
    if (m?.[1] !== undefined && m[2] !== undefined) return join(this.dir, m[1], m[2]);
    return flatRefPattern.test(ref) ? join(this.dir, ref) : null;
  }

  async get(ref: string): Promise<RecordingFile> {
    const path = this.pathOf(ref);
    if (path === null) throw new RecordingStoreError('RECORDING_NOT_FOUND', 'no such recording');
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

  async deletePortal(portal: string): Promise<number> {
    const folder = join(this.dir, this.folderOf(portal));
    const count = (await listFiles(folder)).filter((f) => !f.endsWith('.name')).length;
    try {
      await rm(folder, { recursive: true, force: true });
    } catch (cause) {
      throw new RecordingStoreError('RECORDING_IO', "the portal's recordings could not be deleted", {
        cause,
      });
    }
    return count;
  }

  async deleteStoredBefore(before: number): Promise<number> {
    let deleted = 0;
    const sweep = async (folder: string): Promise<void> => {
      for (const name of await listFiles(folder)) {
        if (!flatRefPattern.test(name)) continue;
        const path = join(folder, name);
        const info = await stat(path).catch(() => null);
        if (info === null || info.mtimeMs >= before) continue;
        await rm(path, { force: true });
        await rm(`${path}.name`, { force: true });
        deleted++;
      }
    };
    try {
      await sweep(this.dir);
      for (const name of await listFiles(this.dir))
        if (portalDirPattern.test(name)) await sweep(join(this.dir, name));
    } catch (cause) {
      throw new RecordingStoreError('RECORDING_IO', 'old recordings could not be deleted', { cause });
    }
    return deleted;
  }
}

/** The store's own secret, made once and kept beside the files so refs survive restarts. */
async function keptSecret(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch {
    // wx: two processes opening one directory at once keep the first secret.
    await writeFile(path, randomBytes(32), { mode: 0o600, flag: 'wx' }).catch(() => undefined);
    return readFile(path);
  }
}

async function listFiles(folder: string): Promise<string[]> {
  try {
    return await readdir(folder);
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') return [];
    throw e;
  }
}
