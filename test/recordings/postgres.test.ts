import { afterAll, describe } from 'vitest';
import { PostgresRecordingStore } from '../../src/recordings/index.ts';
import { PostgresStore } from '../../src/store/postgres/index.ts';
import { databaseUrl, dropSchemas, freshSchemaName, skipMessage } from '../store/pg.ts';
import { recordingStoreSuite } from './suite.ts';

if (databaseUrl === undefined) console.warn(skipMessage);

const schemas: string[] = [];
const stores: PostgresStore[] = [];
const schemaOf = new WeakMap<object, string>();
afterAll(async () => {
  for (const s of stores) await s.close();
  await dropSchemas(schemas);
});

async function open(schema: string, maxBytes?: number): Promise<PostgresRecordingStore> {
  const store = await PostgresStore.open({ url: databaseUrl ?? '', schema });
  stores.push(store);
  const recordings = await PostgresRecordingStore.open(store.database, maxBytes);
  schemaOf.set(recordings, schema);
  return recordings;
}

describe.skipIf(databaseUrl === undefined)('PostgreSQL recordings', () => {
  recordingStoreSuite('PostgreSQL', {
    fresh: (maxBytes) => {
      const schema = freshSchemaName();
      schemas.push(schema);
      return open(schema, maxBytes);
    },
    again: (store) => open(schemaOf.get(store) ?? '', store.maxBytes),
  });
});
