/**
 * The last extension directory read from each portal, kept beside the store. A bridge that starts
 * (after a crash, say) while its portal cannot be reached starts from it instead of from an empty
 * map: without it every call answered until the next successful read would be logged to the
 * default user instead of the agent who took it (found by the chaos run).
 *
 * A file rather than a store table, like `admin-lines.json`: a cache that needs no migration in
 * both stores, and that the next good read overwrites.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { PortalUser } from '../bitrix/index.ts';
import type { BridgeConfig } from '../config/index.ts';

/** Beside the SQLite file; on PostgreSQL in `./data`, like the recordings and `admin-lines.json`. */
export function directoryCachePath(config: BridgeConfig, memberId: string): string {
  const dir = config.store.kind === 'sqlite' ? dirname(resolve(config.store.path)) : resolve('data');
  return join(dir, `directory-${memberId.replace(/[^A-Za-z0-9_.-]/g, '_')}.json`);
}

interface CachedDirectory {
  users: PortalUser[];
  /** The user the bridge acts as on the portal, when known. */
  installerUserId: number | null;
  savedAt: number;
}

const isUser = (u: unknown): u is PortalUser => {
  const user = u as Partial<PortalUser> | null;
  return (
    typeof user === 'object' &&
    user !== null &&
    typeof user.id === 'number' &&
    (user.extension === null || typeof user.extension === 'string')
  );
};

/** The cached directory, or null when there is none or it cannot be read. */
export function loadDirectoryCache(path: string): CachedDirectory | null {
  if (!existsSync(path)) return null;
  try {
    const data = JSON.parse(readFileSync(path, 'utf8')) as {
      users?: unknown;
      savedAt?: unknown;
      installerUserId?: unknown;
    };
    if (!Array.isArray(data.users) || typeof data.savedAt !== 'number') return null;
    const users: unknown[] = data.users;
    const installerUserId = typeof data.installerUserId === 'number' ? data.installerUserId : null;
    return users.every(isUser) ? { users, installerUserId, savedAt: data.savedAt } : null;
  } catch {
    return null;
  }
}

let writes = 0;

/** Written whole and renamed into place: a crash mid-write leaves the previous file. */
export async function saveDirectoryCache(
  path: string,
  users: readonly PortalUser[],
  now: number,
  installerUserId: number | null = null,
): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temp = `${path}.${process.pid}.${++writes}.tmp`;
  await writeFile(temp, JSON.stringify({ savedAt: now, installerUserId, users }), { mode: 0o600 });
  await rename(temp, path);
}

/** The app was uninstalled: the portal's users (names, e-mails) go with it. */
export async function removeDirectoryCache(path: string): Promise<void> {
  await rm(path, { force: true });
}
