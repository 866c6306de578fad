/**
 * Secrets at rest: the portals' OAuth tokens, application tokens and webhook URLs are sealed with
 * AES-256-GCM under a key from the environment (`B24_BRIDGE_STORE_KEY`, 32 bytes as base64 or
 * hex) before they reach the database, so a copied database file or backup gives nothing away.
 * Without a key the values are stored as they are, in a file only its owner can read, and the
 * bridge says so at start.
 *
 * A sealed value says it is one (`sealed:v1:`), so a database written before a key was set still
 * opens: plain values are read as they are and sealed on their next write.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { StoreError } from './errors.ts';

const PREFIX = 'sealed:v1:';

export interface Sealer {
  seal(plain: string): string;
  open(stored: string): string;
}

/** Stores values as they are; a value sealed earlier cannot be read without its key. */
export const plainSealer: Sealer = {
  seal: (s) => s,
  open: (s) => {
    if (s.startsWith(PREFIX))
      throw new StoreError(
        'STORE_KEY_MISMATCH',
        'the stored secrets are sealed: set B24_BRIDGE_STORE_KEY to the key they were sealed with',
      );
    return s;
  },
};

/** The key as the environment gives it: 32 bytes, base64 (44 chars) or hex (64 chars). */
export function parseStoreKey(text: string): Buffer {
  const t = text.trim();
  const key = /^[0-9a-f]{64}$/i.test(t) ? Buffer.from(t, 'hex') : Buffer.from(t, 'base64');
  if (key.length !== 32)
    throw new StoreError(
      'STORE_KEY_INVALID',
      'B24_BRIDGE_STORE_KEY must be 32 bytes, as 64 hex digits or base64 (openssl rand -base64 32)',
    );
  return key;
}

export function aesSealer(key: Buffer): Sealer {
  // A short fingerprint of the key rides along, so a wrong key is told apart from a damaged value.
  const fingerprint = createHash('sha256').update(key).digest('base64url').slice(0, 8);
  return {
    seal(plain) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      const tag = cipher.getAuthTag();
      return `${PREFIX}${fingerprint}:${iv.toString('base64url')}:${tag.toString('base64url')}:${body.toString('base64url')}`;
    },
    open(stored) {
      if (!stored.startsWith(PREFIX)) return stored;
      const [fp = '', iv = '', tag = '', body = ''] = stored.slice(PREFIX.length).split(':');
      if (fp !== fingerprint)
        throw new StoreError(
          'STORE_KEY_MISMATCH',
          'the stored secrets were sealed with another B24_BRIDGE_STORE_KEY than the one set now',
        );
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
        decipher.setAuthTag(Buffer.from(tag, 'base64url'));
        return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString(
          'utf8',
        );
      } catch (cause) {
        throw new StoreError('STORE_CORRUPT', 'a sealed secret in the store is damaged', { cause });
      }
    },
  };
}

/** The sealer the environment asks for; `sealed` false means secrets are stored as they are. */
export function sealerFromEnv(env: NodeJS.ProcessEnv = process.env): { sealer: Sealer; sealed: boolean } {
  const text = env.B24_BRIDGE_STORE_KEY;
  if (text === undefined || text.trim() === '') return { sealer: plainSealer, sealed: false };
  return { sealer: aesSealer(parseStoreKey(text)), sealed: true };
}

export const isSealed = (stored: string): boolean => stored.startsWith(PREFIX);
