import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { PortalUser } from '../bitrix/index.ts';
import { parseConfig } from '../config/index.ts';
import { directoryCachePath, loadDirectoryCache, saveDirectoryCache } from './directory-cache.ts';

const dir = mkdtempSync(join(tmpdir(), 'b24-directory-cache-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const anna = { id: 2, extension: '101', name: 'Anna', lastName: 'Ivanova' } as PortalUser;

describe('the directory cache', () => {
  it('lives beside the SQLite file, one file per portal, with a safe name', () => {
    const parsed = parseConfig({
      store: { kind: 'sqlite', path: join(dir, 'bridge.sqlite') },
      bitrix: { mode: 'app', clientId: 'app', clientSecret: 'secret-123456' },
      pbx: [{ id: 'pbx', token: 'token-123456' }],
    });
    if (!parsed.ok) throw parsed.error;
    expect(directoryCachePath(parsed.config, '../evil/member')).toBe(
      join(dir, 'directory-.._evil_member.json'),
    );
  });

  it('gives back what was saved, and nothing for a missing or damaged file', async () => {
    const path = join(dir, 'directory-a.json');
    expect(loadDirectoryCache(path)).toBeNull();
    await saveDirectoryCache(path, [anna], 1234);
    expect(loadDirectoryCache(path)).toEqual({ users: [anna], installerUserId: null, savedAt: 1234 });
    await saveDirectoryCache(path, [anna], 1235, 1);
    expect(loadDirectoryCache(path)).toEqual({ users: [anna], installerUserId: 1, savedAt: 1235 });
    writeFileSync(path, '{"users": [{"id": "2"}], "savedAt": 1}');
    expect(loadDirectoryCache(path)).toBeNull();
    writeFileSync(path, 'not json');
    expect(loadDirectoryCache(path)).toBeNull();
  });
});
