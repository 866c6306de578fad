/**
 * Secrets out of log lines, three ways, because a logger cannot know where a secret will turn up:
 * - by value: every secret the bridge knows (configuration secrets, tokens as they are issued) is
 *   replaced wherever it appears, even inside a message or an error's text;
 * - by key: a JSON field named like a secret (`access_token`, `clientSecret`, `auth`, …);
 * - by shape: `auth=…` and its kin in query strings, the secret of a `/rest/<user>/<secret>/`
 *   webhook URL, a `Bearer …` header.
 */

export const REDACTED = '[redacted]';

/** Shorter values would match ordinary words and numbers; no real secret is this short. */
const MIN_SECRET_LENGTH = 6;

const secretKeys = [
  'access_token',
  'refresh_token',
  'accessToken',
  'refreshToken',
  'application_token',
  'applicationToken',
  'APPLICATION_TOKEN',
  'client_secret',
  'clientSecret',
  'AUTH_ID',
  'REFRESH_ID',
  'auth',
  'authorization',
  'Authorization',
  'password',
  'token',
  'webhookUrl',
  'webhook_url',
  'cookie',
  'set-cookie',
  'session',
];

/** Paths for pino's own redaction (top level and one level down; the scrubber covers the rest). */
export const redactPaths: string[] = secretKeys.flatMap((k) => {
  const key = /^[A-Za-z_$][\w$]*$/.test(k) ? k : `["${k}"]`;
  const child = key.startsWith('[') ? `*${key}` : `*.${key}`;
  return [key, child, `req.headers${key.startsWith('[') ? key : `.${key}`}`];
});

const keyPattern = new RegExp(
  `("(?:${secretKeys.map((k) => k.replace(/[-]/g, '\\-')).join('|')})"\\s*:\\s*)"(?:[^"\\\\]|\\\\.)*"`,
  'g',
);
const queryPattern =
  /([?&;\s"](?:auth|access_token|refresh_token|client_secret|application_token|AUTH_ID|REFRESH_ID|APP_SID|session|sig|auth%5B\w+%5D|auth\[\w+\])=)[^&\s"]+/gi;
const webhookPattern = /(\/rest\/\d+\/)[^/\s"]+/g;
const bearerPattern = /(Bearer\s+)[^\s",]+/gi;

export class SecretSet {
  private readonly values = new Set<string>();
  private pattern: RegExp | null = null;

  /** Adds a secret (and its URL-encoded form); too-short values are ignored. */
  add(value: string | null | undefined): void {
    if (typeof value !== 'string' || value.length < MIN_SECRET_LENGTH) return;
    const before = this.values.size;
    this.values.add(value);
    this.values.add(encodeURIComponent(value));
    // A JSON log line escapes what is inside its strings.
    this.values.add(JSON.stringify(value).slice(1, -1));
    if (this.values.size !== before) this.pattern = null;
  }

  get size(): number {
    return this.values.size;
  }

  scrub(text: string): string {
    let out = text;
    if (this.values.size > 0) {
      this.pattern ??= new RegExp(
        [...this.values]
          .sort((a, b) => b.length - a.length)
          .map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
          .join('|'),
        'g',
      );
      out = out.replace(this.pattern, REDACTED);
    }
    return out
      .replace(keyPattern, `$1"${REDACTED}"`)
      .replace(queryPattern, `$1${REDACTED}`)
      .replace(webhookPattern, `$1${REDACTED}`)
      .replace(bearerPattern, `$1${REDACTED}`);
  }
}

interface TokenStoreLike<T> {
  get(memberId: string): Promise<T | undefined>;
  save(memberId: string, tokens: T): Promise<void>;
}

/**
 * A token store that tells the scrubber every OAuth token it loads or saves: tokens issued by a
 * refresh are secrets the configuration never knew.
 */
export function tokensAsSecrets<T extends { accessToken: string; refreshToken: string }>(
  store: TokenStoreLike<T>,
  secrets: SecretSet,
): TokenStoreLike<T> {
  const learn = (t: T | undefined): void => {
    secrets.add(t?.accessToken);
    secrets.add(t?.refreshToken);
  };
  return {
    get: async (memberId) => {
      const tokens = await store.get(memberId);
      learn(tokens);
      return tokens;
    },
    save: (memberId, tokens) => {
      learn(tokens);
      return store.save(memberId, tokens);
    },
  };
}
