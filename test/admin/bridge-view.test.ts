/** The bridge's side of the admin view: the extension map's problems, and edited lines kept on disk. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { PortalUser } from '../../src/bitrix/index.ts';
import { extensionMap } from '../../src/bridge/admin-view.ts';
import {
  loadEditedLines,
  saveEditedLines,
  storeEditedLines,
  withEditedLines,
} from '../../src/bridge/lines-file.ts';
import { SqliteStore } from '../../src/store/index.ts';
import { ConfigError, demoDocument, parseConfig, type BridgeConfig } from '../../src/config/index.ts';

const user = (id: number, name: string, extension: string | null): PortalUser => ({
  id,
  active: true,
  name,
  lastName: '',
  email: '',
  isOnline: false,
  extension,
  workPhone: '',
  personalMobile: '',
  departments: [],
  userType: 'employee',
  raw: {},
});

function config(dir: string): BridgeConfig {
  const parsed = parseConfig(
    demoDocument({
      clientId: 'c',
      clientSecret: 'secret-12345',
      oauthUrl: 'http://x/',
      sqlitePath: join(dir, 'b.sqlite'),
    }),
  );
  if (!parsed.ok) throw parsed.error;
  return parsed.config;
}

let dir = '';
afterEach(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

describe('the extension map', () => {
  it('flags users without an extension, extensions without a user, duplicates and unknown queue members', () => {
    dir = mkdtempSync(join(tmpdir(), 'b24-view-'));
    const rules = config(dir).engine; // queues ring 101, 102, 103
    const map = extensionMap({
      memberId: 'p1',
      rules: { ...rules, directory: [{ extension: '200', userId: null }] },
      directory: {
        installerUserId: null,
        users: [
          user(2, 'Anna', '101'),
          user(3, 'Boris', '102'),
          user(7, 'Vera', '102'),
          user(6, 'Elena', null),
        ],
        refreshedAt: 1,
        error: null,
      },
    });
    const of = (ext: string | null, userId: number | null) =>
      map.rows.find((r) => r.extension === ext && r.userId === userId)?.problems;
    expect(of('101', 2)).toEqual([]);
    expect(of('102', 3)).toEqual(['duplicate_extension']);
    expect(of('102', 7)).toEqual(['duplicate_extension']);
    expect(of(null, 6)).toEqual(['user_without_extension']);
    expect(of('200', null)).toEqual(['extension_without_user']);
    expect(of('103', null)).toEqual(['extension_without_user', 'unknown_member']);
    expect(map.rows.map((r) => r.extension)).toEqual(['101', '102', '102', '103', '200', null]);
  });
});

describe('lines edited in the admin UI', () => {
  it('are written beside the store and replace the configured lines at the next start', async () => {
    dir = mkdtempSync(join(tmpdir(), 'b24-view-'));
    const path = join(dir, 'admin-lines.json');
    const original = config(dir);
    expect(withEditedLines(original, path)).toBe(original);
    const edited = structuredClone(original);
    const support = edited.engine.lines.find((l) => l.id === 'support');
    if (support?.routing.kind !== 'queue') throw new Error('the demo has a support queue');
    support.routing.queue.members = ['103'];
    await saveEditedLines(path, edited);
    const next = withEditedLines(original, path);
    expect(next.engine.lines.find((l) => l.id === 'support')?.routing).toMatchObject({
      queue: { members: ['103'] },
    });
    expect(next.engine.lines.find((l) => l.id === 'sales')).toEqual(
      original.engine.lines.find((l) => l.id === 'sales'),
    );
  });

  it('refuse to start from a broken file, naming it', () => {
    dir = mkdtempSync(join(tmpdir(), 'b24-view-'));
    const path = join(dir, 'admin-lines.json');
    writeFileSync(
      path,
      JSON.stringify({
        version: 1,
        lines: [{ id: 'x', routing: { kind: 'queue', queue: { members: [] } } }],
      }),
    );
    expect(() => withEditedLines(config(dir), path)).toThrow(ConfigError);
    expect(() => withEditedLines(config(dir), path)).toThrow(/admin-lines\.json/);
  });

  it('live in the store: an earlier version’s file is taken in once, and later edits come from the store', async () => {
    dir = mkdtempSync(join(tmpdir(), 'b24-view-'));
    const path = join(dir, 'admin-lines.json');
    const original = config(dir);
    const store = await SqliteStore.open({ path: ':memory:' });
    try {
      expect(await loadEditedLines(store, original, path, 1)).toEqual({ config: original, revision: 0 });
      const edited = structuredClone(original);
      const support = edited.engine.lines.find((l) => l.id === 'support');
      if (support?.routing.kind !== 'queue') throw new Error('the demo has a support queue');
      support.routing.queue.members = ['102'];
      await saveEditedLines(path, edited);
      const imported = await loadEditedLines(store, original, path, 2);
      expect(imported.revision).toBe(1);
      expect(imported.config.engine.lines.find((l) => l.id === 'support')?.routing).toMatchObject({
        queue: { members: ['102'] },
      });
      support.routing.queue.members = ['101'];
      expect(await storeEditedLines(store, edited, 3)).toBe(2);
      // The store wins over the old file from now on.
      const next = await loadEditedLines(store, original, path, 4);
      expect(next.revision).toBe(2);
      expect(next.config.engine.lines.find((l) => l.id === 'support')?.routing).toMatchObject({
        queue: { members: ['101'] },
      });
    } finally {
      await store.close();
    }
  });
});
