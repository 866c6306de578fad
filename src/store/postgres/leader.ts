import { EventEmitter } from 'node:events';
import pg from 'pg';
import { quoteIdent } from './store.ts';

interface LeaderLockOptions {
  url: string;
  /** What is led, e.g. `ami:<pbx id>`: instances asking for the same name elect one leader. */
  name: string;
  /** The schema the bridge uses (advisory locks are per database: the schema keeps bridges apart). */
  schema?: string | undefined;
  /** How often a follower tries the lock, and a leader checks its connection. Default 1 s. */
  intervalMs?: number | undefined;
}

interface LeaderLockEvents {
  /** This instance holds the lock: start the work only one instance may do. */
  gained: [];
  /** The lock is gone (its connection broke, or `close`): stop that work at once. */
  lost: [{ reason: string }];
  /** A connection or query failed; it is retried. */
  error: [Error];
}

/**
 * Leader election by a PostgreSQL session advisory lock on a connection of its own: the leader is
 * whoever holds `pg_try_advisory_lock(name)`. The server releases it when that session ends, so
 * when a leader's process dies (SIGKILL: the kernel closes its socket) a follower, trying every
 * `intervalMs`, takes over within about that interval. A leader checks its connection at the same
 * pace and says `lost` as soon as the check fails. A leader whose machine vanishes is noticed only
 * when the server's TCP keepalive gives up, and a leader cut off from the database may briefly
 * overlap a new one: keep the led work tolerant of that (two AMI connections only mean repeated
 * events, which the journal's dedupe keys absorb).
 */
export class LeaderLock extends EventEmitter<LeaderLockEvents> {
  private client: pg.Client | null = null;
  private timer: NodeJS.Timeout | null = null;
  private leading = false;
  private closed = false;
  private busy = false;

  constructor(private readonly o: LeaderLockOptions) {
    super();
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** Starts trying; resolves after the first attempt (check `isLeader`, or wait for `gained`). */
  async start(): Promise<void> {
    await this.tick();
    this.timer = setInterval(() => void this.tick(), this.o.intervalMs ?? 1000);
    this.timer.unref();
  }

  /** Gives the lock up (if held) and stops trying. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const client = this.client;
    this.client = null;
    if (this.leading) {
      this.leading = false;
      this.emit('lost', { reason: 'closed' });
    }
    // Ending the session releases its advisory locks.
    await client?.end().catch(() => undefined);
  }

  /** `closed`, read through a getter so that a check after an await is not narrowed away. */
  private get stopped(): boolean {
    return this.closed;
  }

  private key(): [string, string] {
    // The search path rather than current_schema(), which is null while the schema does not exist.
    return ["hashtext('b24-bridge:leader:' || current_setting('search_path') || ':' || $1)", this.o.name];
  }

  private async tick(): Promise<void> {
    if (this.closed || this.busy) return;
    this.busy = true;
    try {
      const client = await this.connection();
      const [expr, name] = this.key();
      if (this.leading) {
        // Still connected is still leading: the lock lives as long as the session.
        await client.query('SELECT 1');
        return;
      }
      const { rows } = await client.query<{ ok: boolean }>(`SELECT pg_try_advisory_lock(${expr}) AS ok`, [
        name,
      ]);
      if (rows[0]?.ok === true && !this.stopped) {
        this.leading = true;
        this.emit('gained');
      }
    } catch (e) {
      this.drop(e instanceof Error ? e : new Error(String(e)));
    } finally {
      this.busy = false;
    }
  }

  private async connection(): Promise<pg.Client> {
    if (this.client) return this.client;
    const client = new pg.Client({
      connectionString: this.o.url,
      connectionTimeoutMillis: 5000,
      // TCP keepalive: a dead path to the server shows as an error here, not as a silent hang.
      keepAlive: true,
      application_name: `b24-bridge:leader:${this.o.name}`,
      ...(this.o.schema === undefined ? {} : { options: `-c search_path=${quoteIdent(this.o.schema)}` }),
    });
    client.on('error', (e) => this.drop(e));
    this.client = client;
    await client.connect();
    return client;
  }

  /** The session is gone or unusable: so is the lock. */
  private drop(error: Error): void {
    const client = this.client;
    this.client = null;
    client?.end().catch(() => undefined);
    if (this.leading) {
      this.leading = false;
      this.emit('lost', { reason: error.message });
    }
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }
}
