import { isPostgresStore, SqliteStore, type Store } from '../store/index.ts';
import { toStoreError as sqliteError } from '../store/sqlite/errors.ts';
import { toStoreError as postgresError } from '../store/postgres/errors.ts';
import { postgresJournal } from './postgres.ts';
import { sqliteJournal } from './sqlite.ts';
import type { JournalStore } from './types.ts';

/** Every failure as the store's own errors (a stable `code`, the driver's error as `cause`). */
function guarded(journal: JournalStore, toError: (e: unknown, doing: string) => Error): JournalStore {
  const wrap =
    <A extends unknown[], R>(doing: string, fn: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      try {
        return await fn(...args);
      } catch (e) {
        throw toError(e, doing);
      }
    };
  return {
    write: wrap('write the call journal', (entries, calls) => journal.write(entries, calls)),
    search: wrap('search the call journal', (query) => journal.search(query)),
    call: wrap('read the call journal', (key, portal?: string) => journal.call(key, portal)),
    stats: wrap('read the call figures', (from) => journal.stats(from)),
    prune: wrap('prune the call journal', (before) => journal.prune(before)),
  };
}

/** The journal on the database of `store` (its tables come with the store's migrations). */
export function journalOf(store: Store): JournalStore | undefined {
  if (store instanceof SqliteStore) return guarded(sqliteJournal(store.database), sqliteError);
  if (isPostgresStore(store)) return guarded(postgresJournal(store.database), postgresError);
  return undefined;
}
