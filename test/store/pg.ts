/**
 * PostgreSQL for tests: `DATABASE_URL` (CI sets it; without it these tests skip and say so), and a
 * schema of its own per store under test, dropped afterwards, so that test files running in
 * parallel, and runs on a shared CI database, never see each other's rows.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const databaseUrl = process.env.DATABASE_URL || undefined;

export const skipMessage =
  'DATABASE_URL is not set: the PostgreSQL tests are skipped. To run them, start PostgreSQL 15 or later ' +
  'that trusts local connections (docker run -d -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust postgres:16, ' +
  'or a local server with "host all all 127.0.0.1/32 trust" in pg_hba.conf), then ' +
  'DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm run test:all';

/** A schema name nobody else uses: `b24_test_<random>`. */
export const freshSchemaName = (): string => `b24_test_${randomBytes(6).toString('hex')}`;

/** Runs SQL on a connection of its own (outside any store). */
export async function sql<R extends pg.QueryResultRow = pg.QueryResultRow>(
  text: string,
  values: unknown[] = [],
  schema?: string,
): Promise<R[]> {
  const client = new pg.Client({
    connectionString: databaseUrl,
    ...(schema === undefined ? {} : { options: `-c search_path=${schema}` }),
  });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

export async function dropSchemas(schemas: string[]): Promise<void> {
  for (const schema of schemas.splice(0)) await sql(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
}
