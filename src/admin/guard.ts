/**
 * What stands before the admin login and every state-changing admin request: throttling of wrong
 * passwords and tokens (per client address and overall, with a lockout), and a cross-site request
 * check (the session cookie is sent by the browser whoever's page asks it to).
 */
import type { FastifyRequest } from 'fastify';
import { MemoryAttemptLimiter, type AttemptLimiter, type AttemptVerdict } from '../security/index.ts';

export interface LoginLimits {
  maxFailuresPerAddress: number;
  maxFailuresOverall: number;
  windowSec: number;
  lockoutSec: number;
}

export const defaultLoginLimits: LoginLimits = {
  maxFailuresPerAddress: 5,
  maxFailuresOverall: 50,
  windowSec: 900,
  lockoutSec: 900,
};

/**
 * Wrong secrets are counted per client address and for everyone together; while either is locked
 * out, every attempt is refused unchecked (even a right one: otherwise guessing would just go on).
 */
export class LoginThrottle {
  constructor(
    private readonly perAddress: AttemptLimiter,
    private readonly overall: AttemptLimiter,
  ) {}

  static inMemory(limits: LoginLimits): LoginThrottle {
    const windowMs = limits.windowSec * 1000;
    const lockoutMs = limits.lockoutSec * 1000;
    return new LoginThrottle(
      new MemoryAttemptLimiter({ max: limits.maxFailuresPerAddress, windowMs, lockoutMs }),
      new MemoryAttemptLimiter({ max: limits.maxFailuresOverall, windowMs, lockoutMs }),
    );
  }

  check(address: string, now: number): AttemptVerdict {
    const mine = this.perAddress.check(address, now);
    return mine.allowed ? this.overall.check('*', now) : mine;
  }

  failed(address: string, now: number): void {
    this.perAddress.record(address, now);
    this.overall.record('*', now);
  }

  succeeded(address: string): void {
    this.perAddress.reset(address);
  }
}

const unsafe = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Whether a request that changes state comes from the admin UI's own pages. Browsers say where a
 * request comes from (`Sec-Fetch-Site`, else `Origin`); a request without either is not a
 * browser's, so no page of another site can have made it. A page on another port of the same host
 * is same-site but not same-origin, and is refused.
 */
export function sameOriginRequest(request: FastifyRequest, publicUrl: string | undefined): boolean {
  if (!unsafe.has(request.method)) return true;
  const site = request.headers['sec-fetch-site'];
  if (typeof site === 'string') return site === 'same-origin' || site === 'none';
  const origin = request.headers.origin;
  if (typeof origin !== 'string') return true;
  if (origin === 'null') return false;
  let host: string;
  try {
    host = new URL(origin).host.toLowerCase();
  } catch {
    return false;
  }
  const own = (request.headers.host ?? '').toLowerCase();
  if (host === own) return true;
  if (publicUrl === undefined) return false;
  try {
    return new URL(publicUrl).origin === new URL(origin).origin;
  } catch {
    return false;
  }
}
