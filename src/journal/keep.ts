/**
 * The journal of a running bridge: its feed on the client and the portals' outboxes, the sweep of
 * calls past the retention, and the outbox backlog sampled each minute for the dashboard.
 */
import type { EventEmitter } from 'node:events';
import type { ClientEvents } from '../bitrix/index.ts';
import type { Store } from '../store/index.ts';
import { JournalFeed, type Scrub } from './feed.ts';
import { journalOf } from './open.ts';
import type { MinutePoint } from './series.ts';
import type { CallSummary, JournalCall, JournalQuery, JournalStats } from './types.ts';

/** What the admin UI reads of the journal. */
export interface JournalReader {
  search(query: JournalQuery): Promise<CallSummary[]>;
  call(callKey: string, portalId?: string): Promise<JournalCall | undefined>;
  stats(from: number): Promise<JournalStats>;
  /** Requests, limit refusals and backlog per minute since `from` (this process's memory). */
  minutes(from: number): MinutePoint[];
}

interface KeptJournal {
  feed: JournalFeed;
  reader: JournalReader;
  /** Sweeps now (the timer does it hourly); returns how many calls went. */
  sweep(): Promise<number>;
  close(): Promise<void>;
}

const HOUR = 3_600_000;
const MINUTE = 60_000;

export function keepJournal(parts: {
  store: Store;
  client: Pick<EventEmitter<ClientEvents>, 'on' | 'off'>;
  portals: ReadonlyMap<string, unknown>;
  retentionMs: number;
  scrub?: Scrub | undefined;
  onError?: (where: string, error: unknown) => void;
  now?: () => number;
}): KeptJournal | undefined {
  const journal = journalOf(parts.store);
  if (!journal) return undefined;
  const now = parts.now ?? Date.now;
  const feed = new JournalFeed({
    journal,
    store: parts.store,
    scrub: parts.scrub,
    now,
    onError: (e) => parts.onError?.('write', e),
  });
  feed.watchClient(parts.client);
  const sweep = (): Promise<number> => journal.prune(now() - parts.retentionMs);
  const sample = async (): Promise<void> => {
    let open = 0;
    for (const portal of parts.portals.keys()) {
      const b = await parts.store.backlog(portal);
      open += b.pending + b.inFlight;
    }
    feed.series.backlog(now(), open);
  };
  const sweeping = setInterval(() => {
    sweep().catch((e: unknown) => parts.onError?.('sweep', e));
  }, HOUR);
  const sampling = setInterval(() => {
    sample().catch((e: unknown) => parts.onError?.('sample', e));
  }, MINUTE);
  sweeping.unref();
  sampling.unref();
  // The first sweep soon after the start: a bridge restarted daily would otherwise never sweep.
  const first = setTimeout(() => {
    sweep().catch((e: unknown) => parts.onError?.('sweep', e));
    sample().catch((e: unknown) => parts.onError?.('sample', e));
  }, 5_000);
  first.unref();
  return {
    feed,
    reader: {
      search: async (query) => {
        await feed.flush();
        return journal.search(query);
      },
      call: async (callKey, portalId) => {
        await feed.flush();
        return journal.call(callKey, portalId);
      },
      stats: async (from) => {
        await feed.flush();
        return journal.stats(from);
      },
      minutes: (from) => feed.series.since(from),
    },
    sweep,
    close: async () => {
      clearInterval(sweeping);
      clearInterval(sampling);
      clearTimeout(first);
      await feed.close();
    },
  };
}
