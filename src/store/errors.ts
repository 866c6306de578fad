/**
 * The one error type of the store. Callers branch on `code` (stable), never on the message; the
 * driver's own error is kept as `cause`. The server maps any of them to 503 for the PBX: the event
 * was not stored, so it must not be acknowledged, and the PBX sends it again later.
 */
export const storeErrorCodes = [
  /** The database cannot be opened or read/written at the I/O level (missing disk, I/O error). */
  'STORE_UNAVAILABLE',
  /** The disk (or the database's page limit) is full. */
  'STORE_FULL',
  /** The file or the file system is read-only. */
  'STORE_READONLY',
  /** Another connection holds the write lock for longer than the busy timeout. */
  'STORE_BUSY',
  /** The file is damaged or not a database of ours. */
  'STORE_CORRUPT',
  /** The store was closed (shutdown). */
  'STORE_CLOSED',
  /** The database was migrated by a newer version of the bridge. */
  'STORE_TOO_NEW',
  /** A migration failed; the database is left at the last good version. */
  'STORE_MIGRATION_FAILED',
  /** B24_BRIDGE_STORE_KEY is not a 32-byte key. */
  'STORE_KEY_INVALID',
  /** The secrets were sealed with another key than the one set now. */
  'STORE_KEY_MISMATCH',
  /** Anything else the driver reported. */
  'STORE_FAILED',
] as const;

export type StoreErrorCode = (typeof storeErrorCodes)[number];

export class StoreError extends Error {
  readonly code: StoreErrorCode;

  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreError';
    this.code = code;
  }
}
