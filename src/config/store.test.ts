import { describe, expect, it } from 'vitest';
import { parseConfig, type BridgeConfig, type ConfigResult } from './index.ts';

const minimal = {
  bitrix: { mode: 'webhook', url: 'https://portal.example/rest/1/hook-secret-123/' },
  pbx: [{ id: 'office', token: 'office-token-42' }],
};

const pgUrl = 'postgres://bridge:pw@db.example:5432/bridge';

function store(result: ConfigResult): BridgeConfig['store'] {
  if (!result.ok) throw result.error;
  return result.config.store;
}

describe('choosing the store: SQLite, or PostgreSQL for several instances', () => {
  it('is SQLite by default', () => {
    expect(store(parseConfig(minimal))).toEqual({ kind: 'sqlite', path: 'data/bridge.sqlite' });
  });

  it('is PostgreSQL when DATABASE_URL is set and the configuration names no store', () => {
    expect(store(parseConfig(minimal, { DATABASE_URL: pgUrl }))).toEqual({ kind: 'postgres', url: pgUrl });
    // Empty is unset.
    expect(store(parseConfig(minimal, { DATABASE_URL: '' })).kind).toBe('sqlite');
  });

  it('keeps the store the file or a B24_BRIDGE_* variable names, whatever DATABASE_URL says', () => {
    const sqlite = { ...minimal, store: { kind: 'sqlite', path: '/var/lib/b24/bridge.sqlite' } };
    expect(store(parseConfig(sqlite, { DATABASE_URL: pgUrl }))).toEqual(sqlite.store);
    expect(
      store(parseConfig(minimal, { DATABASE_URL: pgUrl, B24_BRIDGE_SQLITE_PATH: '/tmp/b.sqlite' })),
    ).toEqual({ kind: 'sqlite', path: '/tmp/b.sqlite' });
    const other = 'postgresql://other@db2.example/bridge';
    expect(store(parseConfig(minimal, { DATABASE_URL: pgUrl, B24_BRIDGE_POSTGRES_URL: other }))).toEqual({
      kind: 'postgres',
      url: other,
    });
    expect(store(parseConfig({ ...minimal, store: { kind: 'postgres', url: other } }))).toEqual({
      kind: 'postgres',
      url: other,
    });
  });

  it('names DATABASE_URL, and never its value, when it is not a PostgreSQL URL', () => {
    const result = parseConfig(minimal, { DATABASE_URL: 'mysql://root:hunter2@db/x' });
    if (result.ok) throw new Error('expected a refusal');
    expect(result.error.message).toMatch(/store\.url/);
    expect(result.error.message).toMatch(/DATABASE_URL/);
    expect(result.error.message).not.toMatch(/hunter2/);
  });
});
