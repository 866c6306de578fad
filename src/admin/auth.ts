/**
 * Who may use the admin UI and API: a bearer token (`admin.token`) for scripts, a login form with
 * the password (or the token) for people, who then carry an HttpOnly, SameSite=Strict session
 * cookie. Sessions are random ids kept in memory: a restart logs everyone out, which is fine.
 */
import { randomBytes } from 'node:crypto';
import { sameSecret } from '../security/index.ts';

export interface AdminCredentials {
  token?: string | undefined;
  password?: string | undefined;
}

export const SESSION_COOKIE = 'b24_admin';
const SESSION_TTL_MS = 12 * 3600 * 1000;
const MAX_SESSIONS = 1000;

export class AdminAuth {
  private readonly sessions = new Map<string, number>();

  constructor(
    private readonly credentials: AdminCredentials,
    private readonly now: () => number = Date.now,
  ) {}

  /** Without a token or a password nobody can log in: the UI says how to set one. */
  get enabled(): boolean {
    return Boolean(this.credentials.token) || Boolean(this.credentials.password);
  }

  bearer(authorization: string | undefined): boolean {
    const m = /^Bearer\s+(.+)$/i.exec(authorization ?? '');
    return m?.[1] !== undefined && sameSecret(m[1].trim(), this.credentials.token);
  }

  /** The login form takes the password, or the token. */
  checkSecret(given: string): boolean {
    // Both compared always: which one matched must not show in the timing either.
    const password = sameSecret(given, this.credentials.password);
    const token = sameSecret(given, this.credentials.token);
    return password || token;
  }

  startSession(): string {
    const id = randomBytes(32).toString('base64url');
    this.prune();
    this.sessions.set(id, this.now() + SESSION_TTL_MS);
    return id;
  }

  hasSession(cookieHeader: string | undefined): boolean {
    const id = sessionIdOf(cookieHeader);
    if (id === undefined) return false;
    const until = this.sessions.get(id);
    if (until === undefined) return false;
    if (until <= this.now()) {
      this.sessions.delete(id);
      return false;
    }
    return true;
  }

  endSession(cookieHeader: string | undefined): void {
    const id = sessionIdOf(cookieHeader);
    if (id !== undefined) this.sessions.delete(id);
  }

  private prune(): void {
    const now = this.now();
    for (const [id, until] of this.sessions) if (until <= now) this.sessions.delete(id);
    // A flood of logins must not grow memory without end: the oldest sessions go first.
    while (this.sessions.size >= MAX_SESSIONS) {
      const oldest = this.sessions.keys().next().value;
      if (oldest === undefined) break;
      this.sessions.delete(oldest);
    }
  }
}

export function sessionIdOf(cookieHeader: string | undefined): string | undefined {
  for (const part of (cookieHeader ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === SESSION_COOKIE) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export function sessionCookie(id: string, secure: boolean): string {
  return [
    `${SESSION_COOKIE}=${id}`,
    'Path=/',
    'HttpOnly',
    'SameSite=Strict',
    `Max-Age=${String(SESSION_TTL_MS / 1000)}`,
    ...(secure ? ['Secure'] : []),
  ].join('; ');
}

export const clearedCookie = `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`;
