/**
 * Who may use the admin UI and API: a bearer token (`admin.token`) for scripts, a login form with
 * the password (or the token) for people, who then carry an HttpOnly, SameSite=Strict session
 * cookie. Sessions are random ids kept in the store (by their digest, so a reader of the database
 * cannot take one over): every instance behind a balancer knows them, and a restart keeps them.
 */
import { createHash, randomBytes } from 'node:crypto';
import { sameSecret } from '../security/index.ts';

export interface AdminCredentials {
  token?: string | undefined;
  password?: string | undefined;
}

const SESSION_COOKIE = 'b24_admin';
const SESSION_TTL_MS = 12 * 3600 * 1000;
const MAX_SESSIONS = 1000;

/** Where sessions live: the store's admin state (`Store.admin`), or memory for a UI without one. */
export interface SessionStore {
  addSession(digest: string, now: number, expiresAt: number, max: number): Promise<void>;
  sessionAlive(digest: string, now: number): Promise<boolean>;
  removeSession(digest: string): Promise<void>;
}

/** Sessions in this process only: a restart logs everyone out. */
function memorySessions(): SessionStore {
  const sessions = new Map<string, { createdAt: number; expiresAt: number }>();
  return {
    addSession(digest, now, expiresAt, max) {
      for (const [d, s] of sessions) if (s.expiresAt <= now) sessions.delete(d);
      sessions.set(digest, { createdAt: now, expiresAt });
      // A flood of logins must not grow memory without end: the oldest sessions go first.
      for (const d of sessions.keys()) {
        if (sessions.size <= max) break;
        sessions.delete(d);
      }
      return Promise.resolve();
    },
    sessionAlive: (digest, now) => Promise.resolve((sessions.get(digest)?.expiresAt ?? 0) > now),
    removeSession(digest) {
      sessions.delete(digest);
      return Promise.resolve();
    },
  };
}

const digestOf = (id: string): string => createHash('sha256').update(id).digest('hex');

export class AdminAuth {
  constructor(
    private readonly credentials: AdminCredentials,
    private readonly sessions: SessionStore = memorySessions(),
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

  async startSession(): Promise<string> {
    const id = randomBytes(32).toString('base64url');
    const now = this.now();
    await this.sessions.addSession(digestOf(id), now, now + SESSION_TTL_MS, MAX_SESSIONS);
    return id;
  }

  async hasSession(cookieHeader: string | undefined): Promise<boolean> {
    const id = sessionIdOf(cookieHeader);
    if (id === undefined || id.length > 100) return false;
    return this.sessions.sessionAlive(digestOf(id), this.now());
  }

  async endSession(cookieHeader: string | undefined): Promise<void> {
    const id = sessionIdOf(cookieHeader);
    if (id !== undefined) await this.sessions.removeSession(digestOf(id));
  }
}

function sessionIdOf(cookieHeader: string | undefined): string | undefined {
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
