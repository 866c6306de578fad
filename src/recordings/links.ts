/**
 * Download links for recordings: the portal is given `/recordings/<ref>?expires=…&sig=…`, an HMAC
 * of the ref and the expiry under the store's link secret. A link works until it expires (long
 * enough for Bitrix24 to fetch it; a new one is made for every attachRecord), and a recording
 * deleted (retention, uninstall) is gone whatever link names it.
 */
import { createHmac } from 'node:crypto';
import { sameSecret } from '../security/index.ts';

type LinkVerdict = 'valid' | 'expired' | 'invalid';

export class RecordingLinks {
  constructor(
    private readonly secret: Buffer,
    private readonly ttlMs: number,
    /** Where the portal reaches the bridge; no link while it is unknown (''). */
    private readonly baseUrl: () => string,
  ) {}

  private sign(ref: string, expires: string): string {
    return createHmac('sha256', this.secret).update(`${ref}\0${expires}`).digest('base64url');
  }

  /** The link to hand the portal now, or undefined when the bridge's address is not known yet. */
  url(ref: string, now: number): string | undefined {
    const base = this.baseUrl();
    if (base === '') return undefined;
    const expires = String(Math.ceil((now + this.ttlMs) / 1000));
    return `${base}/recordings/${ref}?expires=${expires}&sig=${this.sign(ref, expires)}`;
  }

  check(ref: string, expires: unknown, sig: unknown, now: number): LinkVerdict {
    if (typeof expires !== 'string' || !/^\d{1,12}$/.test(expires)) return 'invalid';
    if (typeof sig !== 'string' || sig.length > 100) return 'invalid';
    if (!sameSecret(sig, this.sign(ref, expires))) return 'invalid';
    return Number(expires) * 1000 < now ? 'expired' : 'valid';
  }
}
