import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { aesSealer, isSealed, parseStoreKey, plainSealer, sealerFromEnv } from './sealer.ts';

describe('secrets at rest', () => {
  const key = randomBytes(32);
  const sealer = aesSealer(key);

  it('seals with AES-256-GCM: nothing of the secret shows, and it opens again', () => {
    const secret = JSON.stringify({ accessToken: 'access-abc123', refreshToken: 'refresh-def456' });
    const sealed = sealer.seal(secret);
    expect(isSealed(sealed)).toBe(true);
    expect(sealed).not.toContain('abc123');
    expect(sealer.seal(secret)).not.toBe(sealed); // a fresh IV each time
    expect(sealer.open(sealed)).toBe(secret);
  });

  it('reads values stored before a key was set as they are', () => {
    expect(sealer.open('plain-token')).toBe('plain-token');
  });

  it('tells a wrong key from a damaged value, by code', () => {
    const sealed = sealer.seal('secret');
    expect(() => aesSealer(randomBytes(32)).open(sealed)).toThrow(
      expect.objectContaining({ code: 'STORE_KEY_MISMATCH' }),
    );
    const damaged = sealed.slice(0, -4) + (sealed.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    expect(() => sealer.open(damaged)).toThrow(expect.objectContaining({ code: 'STORE_CORRUPT' }));
  });

  it('takes the key from the environment as hex or base64, 32 bytes, and refuses anything else', () => {
    expect(parseStoreKey(key.toString('hex'))).toEqual(key);
    expect(parseStoreKey(key.toString('base64'))).toEqual(key);
    expect(() => parseStoreKey('short')).toThrow(expect.objectContaining({ code: 'STORE_KEY_INVALID' }));
    expect(sealerFromEnv({}).sealer).toBe(plainSealer);
    expect(sealerFromEnv({ B24_BRIDGE_STORE_KEY: key.toString('base64') }).sealed).toBe(true);
  });
});
