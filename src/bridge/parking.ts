/**
 * The events of a PBX the bridge connects to itself (Asterisk over AMI) that arrive while no portal
 * is installed: AMI cannot replay them, and holding them in memory would grow without bound, so
 * they are parked in the store (at most `max` a PBX; past it the oldest go, counted and logged
 * once) and fed to the portal's outbox, in order and before any newer event, once one is there.
 * A parked batch is removed only after the outbox took it: a crash in between feeds it again,
 * and the events' dedupe keys (`timedEventKey`) make the repeat a no-op.
 */
import type { Counter, Gauge } from '../metrics/index.ts';
import type { PbxEvent } from '../pbx/index.ts';
import type { ParkedEvents } from '../store/index.ts';

/** Parked events fed to the outbox per step. */
const FEED_BATCH = 500;

interface ParkingOptions {
  pbxId: string;
  store: ParkedEvents;
  /** pbx[].ami.maxParkedEvents. */
  max: number;
  now?: (() => number) | undefined;
  /** `b24_bridge_pbx_events_parked{pbx}`. */
  parkedGauge?: Gauge | undefined;
  /** `b24_bridge_pbx_events_dropped_total{pbx,where}`. */
  droppedCounter?: Counter | undefined;
  log?: ((level: 'info' | 'warn', message: string, data?: Record<string, unknown>) => void) | undefined;
}

/** Hands a batch of events to the portal's outbox (resolves once they are stored there). */
type Feed = (events: readonly PbxEvent[]) => Promise<void>;

export class Parking {
  /** Parked events as last counted; null until read (another process may have left some). */
  private known: number | null = null;
  private chain: Promise<unknown> = Promise.resolve();
  private dropWarned = false;
  private parkNoted = false;

  constructor(private readonly o: ParkingOptions) {}

  /**
   * The one way events reach the portal: with no outbox they are parked; with one, what is
   * parked goes first, then these. One call at a time, in the order they were made.
   */
  deliver(events: readonly PbxEvent[], feed: Feed | undefined): Promise<void> {
    return this.serial(async () => {
      if (feed === undefined) {
        await this.park(events);
        return;
      }
      await this.feedParked(feed);
      await feed(events);
    });
  }

  /** Feeds what is parked, if anything (a portal was installed since, or this instance took the PBX over). */
  drain(feed: Feed): Promise<void> {
    if (this.known === 0) return Promise.resolve();
    return this.serial(() => this.feedParked(feed));
  }

  /** Forget the count: another instance may have parked meanwhile (a leader change). */
  recount(): void {
    this.known = null;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async park(events: readonly PbxEvent[]): Promise<void> {
    if (events.length === 0) return;
    const { pbxId } = this.o;
    const { dropped, parked } = await this.o.store.park(
      pbxId,
      events,
      (this.o.now ?? Date.now)(),
      this.o.max,
    );
    this.setKnown(parked);
    if (!this.parkNoted) {
      this.parkNoted = true;
      this.o.log?.('info', 'no portal is installed yet: the PBX events are kept in the store until one is', {
        pbxId,
        max: this.o.max,
      });
    }
    if (dropped > 0) {
      this.o.droppedCounter?.inc({ pbx: pbxId, where: 'parked' }, dropped);
      if (!this.dropWarned) {
        this.dropWarned = true;
        this.o.log?.(
          'warn',
          `no portal is installed and ${String(this.o.max)} PBX events are kept (pbx[].ami.maxParkedEvents): the oldest are dropped`,
          { pbxId, dropped },
        );
      }
    }
  }

  private async feedParked(feed: Feed): Promise<void> {
    const { pbxId, store } = this.o;
    if (this.known === 0) return;
    let fed = 0;
    for (;;) {
      const batch = await store.oldest(pbxId, FEED_BATCH);
      const last = batch.at(-1);
      if (last === undefined) {
        this.setKnown(0);
        break;
      }
      await feed(batch.map((p) => p.event as PbxEvent));
      this.setKnown(await store.remove(pbxId, last.id));
      fed += batch.length;
    }
    if (fed > 0)
      this.o.log?.('info', 'the PBX events kept while no portal was installed are fed to it', {
        pbxId,
        events: fed,
      });
    // A new episode of parking is told again.
    this.parkNoted = false;
    this.dropWarned = false;
  }

  private setKnown(n: number): void {
    this.known = n;
    this.o.parkedGauge?.set({ pbx: this.o.pbxId }, n);
  }
}
