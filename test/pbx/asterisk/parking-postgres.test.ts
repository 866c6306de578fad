/** Parking of AMI events on PostgreSQL (the suite: parking-suite.ts); skipped without DATABASE_URL. */
import { afterAll, describe } from 'vitest';
import { PostgresStore } from '../../../src/store/postgres/index.ts';
import { databaseUrl, dropSchemas, freshSchemaName, skipMessage } from '../../store/pg.ts';
import { parkingSuite } from './parking-suite.ts';

if (databaseUrl === undefined) console.warn(skipMessage);

describe.skipIf(databaseUrl === undefined)('PostgreSQL', () => {
  const schemas: string[] = [];
  afterAll(() => dropSchemas(schemas));
  parkingSuite('PostgreSQL', () => {
    const schema = freshSchemaName();
    schemas.push(schema);
    return PostgresStore.open({ url: databaseUrl ?? '', schema, poolSize: 4 });
  });
});
