/**
 * Outbox changes between instances by LISTEN/NOTIFY: a commit that adds work (or a release of
 * calls) notifies, and every other instance's watcher of that portal looks for work at once
 * instead of at its next poll. Best effort: while the listening connection is down, the poll
 * alone finds the work. Payload `<schema> TAB <portal> TAB <store id>`, so a store ignores its
 * own notifications and those of bridges in other schemas of the same database.
 */
import pg from 'pg';
import type { Queryable } from './sql/queryable.ts';

const CHANNEL = 'b24_bridge_outbox';

/** Notifies inside the caller's transaction: delivered at its commit, and only then. */
export async function notifyOutbox(db: Queryable, portalId: string, storeId: string): Promise<void> {
  await db.query(`SELECT pg_notify('${CHANNEL}', current_schema() || chr(9) || $1 || chr(9) || $2)`, [
    portalId,
    storeId,
  ]);
}

export class OutboxListener {
  private readonly watchers = new Map<string, Set<() => void>>();
  private listener: Promise<pg.Client> | null = null;
  private relisten: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly connect: () => pg.ClientConfig,
    private readonly storeId: string,
  ) {}

  watch(portalId: string, onChange: () => void): () => void {
    let set = this.watchers.get(portalId);
    if (!set) this.watchers.set(portalId, (set = new Set()));
    set.add(onChange);
    this.listen();
    return () => {
      set.delete(onChange);
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.relisten) clearTimeout(this.relisten);
    const listener = this.listener;
    this.listener = null;
    await listener?.then((c) => c.end()).catch(() => undefined);
  }

  private listen(): void {
    if (this.listener || this.closed) return;
    const retry = (): void => {
      this.listener = null;
      if (this.closed || this.relisten) return;
      this.relisten = setTimeout(() => {
        this.relisten = null;
        this.listen();
      }, 1000);
      this.relisten.unref();
    };
    const client = new pg.Client(this.connect());
    client.on('error', () => {
      client.end().catch(() => undefined);
      retry();
    });
    this.listener = (async () => {
      await client.connect();
      const schema = (await client.query<{ s: string | null }>('SELECT current_schema() AS s')).rows[0]?.s;
      client.on('notification', (n) => {
        const [from, portalId, store] = (n.payload ?? '').split('\t');
        if (from !== schema || store === this.storeId || portalId === undefined) return;
        for (const fn of this.watchers.get(portalId) ?? []) fn();
      });
      await client.query(`LISTEN ${CHANNEL}`);
      return client;
    })();
    this.listener.catch(() => {
      client.end().catch(() => undefined);
      retry();
    });
  }
}
