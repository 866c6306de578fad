import { afterAll, describe, expect, it } from 'vitest';
import { formatStatus, readStatus } from '../../src/cli/status.ts';
import { replay } from '../../src/cli/replay.ts';
import { parseConfig, type BridgeConfig } from '../../src/config/index.ts';
import { openStore } from '../../src/store/index.ts';
import { PostgresStore } from '../../src/store/postgres/index.ts';
import { databaseUrl, dropSchemas, freshSchemaName, skipMessage, sql } from '../store/pg.ts';
import { entry, step } from '../store/suite.ts';

if (databaseUrl === undefined) console.warn(skipMessage);

/** `b24-bridge status` and `replay --dry-run` read a PostgreSQL store as they read SQLite. */
describe.skipIf(databaseUrl === undefined)('the command line on PostgreSQL', () => {
  const schema = freshSchemaName();
  afterAll(() => dropSchemas([schema]));

  it('shows each portal’s backlog, and what a replay would send', async () => {
    await sql(`CREATE SCHEMA ${schema}`);
    const url = new URL(databaseUrl ?? '');
    url.searchParams.set('options', `-c search_path=${schema}`);
    const parsed = parseConfig(
      {
        bitrix: { mode: 'app', clientId: 'local.app.1', clientSecret: 'app-secret-value-1' },
        pbx: [{ id: 'office', token: 'office-token-42' }],
        // Nobody listens here: the link state is unknown, and replay does not think a bridge runs.
        server: { port: 1 },
      },
      { DATABASE_URL: url.toString() },
    );
    if (!parsed.ok) throw parsed.error;
    const config: BridgeConfig = parsed.config;
    expect(config.store.kind).toBe('postgres');

    const store = await openStore(config);
    expect(store).toBeInstanceOf(PostgresStore);
    await store.savePortal(
      {
        memberId: 'm1',
        domain: 'a.bitrix24.ru',
        clientEndpoint: null,
        authKind: 'oauth',
        webhookUrl: null,
        applicationToken: 't',
      },
      1,
    );
    await store.commitStep(step({ portalId: 'm1', now: Date.UTC(2026, 0, 1) }));
    await store.commitStep(
      step({
        portalId: 'm1',
        now: Date.UTC(2026, 0, 2),
        input: { type: 'x', dedupeKey: 'e2', payload: {} },
        newEntries: [entry('c2@1', 0)],
      }),
    );
    await store.close();

    const status = await readStatus(config);
    expect(status).toMatchObject([
      {
        memberId: 'm1',
        backlog: { pending: 3, inFlight: 0, oldestOpenAt: Date.UTC(2026, 0, 1) },
        link: 'unknown (the bridge is not running)',
      },
    ]);
    expect(formatStatus(status)[1]).toBe('  backlog: 3 pending, 0 in flight, 0 failed, 0 dropped');

    let out = '';
    const outcome = await replay(config, { dryRun: true, out: { write: (t: string) => (out += t) } });
    expect(outcome.portals.map((p) => [p.before.pending, p.before.calls])).toEqual([[3, 2]]);
    expect(out).toMatch(/dry run: nothing was sent/);
  });
});
