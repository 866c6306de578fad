/**
 * Watches the bridge from outside once a second: its outbox backlog, read from its SQLite file by
 * a second, read-only connection (WAL: readers never block the writer; this is what `b24-bridge
 * status` reads), the portal link it reports on `/healthz`, and the OAuth tokens it holds (so the
 * log scan knows every one of them, whoever issued it).
 */
import BetterSqlite3 from 'better-sqlite3';

export interface Backlog {
  pending: number;
  inFlight: number;
  failed: number;
  dropped: number;
  done: number;
}

export function readBacklog(sqlitePath: string): Backlog | null {
  let db: BetterSqlite3.Database | undefined;
  try {
    db = new BetterSqlite3(sqlitePath, { readonly: true, fileMustExist: true });
    const rows = db.prepare('SELECT status, count(*) AS n FROM outbox_entries GROUP BY status').all() as {
      status: string;
      n: number;
    }[];
    const by = Object.fromEntries(rows.map((r) => [r.status, r.n]));
    return {
      pending: by.pending ?? 0,
      inFlight: by.in_flight ?? 0,
      failed: by.failed ?? 0,
      dropped: by.dropped ?? 0,
      done: by.done ?? 0,
    };
  } catch {
    // The file is being recovered after a kill, or has no table yet: no reading this second.
    return null;
  } finally {
    db?.close();
  }
}

/** Access, refresh and application tokens as the bridge stored them. */
export function readStoredTokens(sqlitePath: string): string[] {
  let db: BetterSqlite3.Database | undefined;
  try {
    db = new BetterSqlite3(sqlitePath, { readonly: true, fileMustExist: true });
    const out: string[] = [];
    for (const row of db.prepare('SELECT tokens FROM portal_tokens').all() as { tokens: string }[]) {
      const t = JSON.parse(row.tokens) as Record<string, unknown>;
      for (const key of ['accessToken', 'refreshToken'])
        if (typeof t[key] === 'string' && t[key] !== '') out.push(t[key]);
    }
    for (const row of db.prepare('SELECT application_token AS t FROM portals').all() as {
      t: string | null;
    }[])
      if (row.t !== null && row.t !== '') out.push(row.t);
    return out;
  } catch {
    return [];
  } finally {
    db?.close();
  }
}

export async function linkOf(bridgeUrl: string): Promise<string | null> {
  try {
    const res = await fetch(`${bridgeUrl}/healthz`, { signal: AbortSignal.timeout(2000) });
    const body = (await res.json()) as { portals?: { link: string }[] };
    return body.portals?.[0]?.link ?? null;
  } catch {
    return null;
  }
}

export interface Watcher {
  latest(): Backlog | null;
  maxBacklog(): number;
  /** Link states the bridge reported, in order, without repeats (e.g. up → down → up). */
  links(): string[];
  tokens(): Set<string>;
  stop(): void;
}

export function watchBridge(sqlitePath: string, bridgeUrl: string): Watcher {
  let latest: Backlog | null = null;
  let max = 0;
  const links: string[] = [];
  const tokens = new Set<string>();
  let busy = false;
  const sample = async (): Promise<void> => {
    if (busy) return;
    busy = true;
    try {
      const backlog = readBacklog(sqlitePath);
      if (backlog) {
        latest = backlog;
        max = Math.max(max, backlog.pending + backlog.inFlight);
      }
      for (const t of readStoredTokens(sqlitePath)) tokens.add(t);
      const link = await linkOf(bridgeUrl);
      if (link !== null && links.at(-1) !== link) links.push(link);
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void sample(), 1000);
  void sample();
  return {
    latest: () => latest,
    maxBacklog: () => max,
    links: () => links,
    tokens: () => tokens,
    stop: () => clearInterval(timer),
  };
}
