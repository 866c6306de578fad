import { StoreError, type StoreErrorCode } from '../errors.ts';

/** SQLite's primary result codes (the part before `_` of better-sqlite3's `code`) → ours. */
const primary: Readonly<Record<string, StoreErrorCode>> = {
  SQLITE_FULL: 'STORE_FULL',
  SQLITE_READONLY: 'STORE_READONLY',
  SQLITE_BUSY: 'STORE_BUSY',
  SQLITE_LOCKED: 'STORE_BUSY',
  SQLITE_IOERR: 'STORE_UNAVAILABLE',
  SQLITE_CANTOPEN: 'STORE_UNAVAILABLE',
  SQLITE_PERM: 'STORE_READONLY',
  SQLITE_CORRUPT: 'STORE_CORRUPT',
  SQLITE_NOTADB: 'STORE_CORRUPT',
};

/** The file system's own errors, met before SQLite opens the file (its folder, its mode). */
const fileSystem: Readonly<Record<string, StoreErrorCode>> = {
  ENOSPC: 'STORE_FULL',
  EDQUOT: 'STORE_FULL',
  EFBIG: 'STORE_FULL',
  EROFS: 'STORE_READONLY',
  EACCES: 'STORE_READONLY',
  EPERM: 'STORE_READONLY',
  ENOTDIR: 'STORE_UNAVAILABLE',
  // mkdir of the folder where a file is: the path cannot hold a database.
  EEXIST: 'STORE_UNAVAILABLE',
  ENOENT: 'STORE_UNAVAILABLE',
  EISDIR: 'STORE_UNAVAILABLE',
  EIO: 'STORE_UNAVAILABLE',
};

/** Turns whatever better-sqlite3 threw into a StoreError (a StoreError passes through). */
export function toStoreError(e: unknown, doing: string): StoreError {
  if (e instanceof StoreError) return e;
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string' && code.startsWith('SQLITE_')) {
    const base = /^SQLITE_[A-Z]+/.exec(code)?.[0] ?? code;
    const mapped = primary[code] ?? primary[base] ?? 'STORE_FAILED';
    return new StoreError(mapped, `${doing}: ${code}`, { cause: e });
  }
  const fsCode = typeof code === 'string' ? fileSystem[code] : undefined;
  if (fsCode !== undefined) {
    return new StoreError(fsCode, `${doing}: ${String(code)}`, { cause: e });
  }
  if (e instanceof TypeError && /database connection is not open/i.test(e.message)) {
    return new StoreError('STORE_CLOSED', `${doing}: the store is closed`, { cause: e });
  }
  return new StoreError('STORE_FAILED', `${doing}: ${e instanceof Error ? e.message : 'unknown failure'}`, {
    cause: e,
  });
}
