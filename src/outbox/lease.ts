/**
 * Which calls this instance delivers. On a shared store (several instances, PostgreSQL) a call is
 * claimed with a lease before delivery, renewed while the instance polls, and given back once all
 * its entries are settled (or at a rolling restart); on a store of one process (SQLite) every
 * call is this instance's and the keeper does nothing.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Clock } from '../bitrix/index.ts';
import type { EntryUpdate, OutboxEntry, Store } from '../store/index.ts';

export interface LeaseOptions {
  /** This instance's name in the store's leases. Default: host, pid and a random part. */
  owner: string;
  /** How long a claimed call stays this instance's without renewal. Default 10 s. */
  leaseMs: number;
  /**
   * How often the instance renews its leases, looks for calls other instances left (an expired
   * lease, or released with new entries) and follows their engine steps. Default 1 s.
   */
  pollMs: number;
  /** Calls claimed at most per look. Default 100. */
  claimLimit: number;
}

export interface LeaseKeeper {
  /** Other instances share the store: their steps must be followed. */
  readonly shared: boolean;
  /** The open entries of the calls this instance may deliver now (claiming them on a shared store). */
  claim(now: number): Promise<OutboxEntry[]>;
  /**
   * After a delivery round: gives back the calls whose every entry is settled (none pending, none
   * in flight here, none failed just now), so that whichever instance steps them next (a late
   * recording, say) delivers what that step adds without waiting for our lease to end.
   */
  settleRound(
    entries: readonly OutboxEntry[],
    failedNow: readonly EntryUpdate[],
    inFlight: Iterable<OutboxEntry>,
  ): Promise<void>;
  /** Runs `poll` every poll period (the next one once it settled) and `changed` when others write. */
  start(poll: () => Promise<void>, changed: () => void): void;
  stop(): void;
  /** After `stop`: the calls held at the last claim go back now (a rolling restart). */
  release(): Promise<void>;
}

/** One process holds every call: nothing to claim, renew or give back. */
const soleOwner = (store: Store, portalId: string): LeaseKeeper => ({
  shared: false,
  claim: () => store.openCalls(portalId),
  settleRound: () => Promise.resolve(),
  start: () => undefined,
  stop: () => undefined,
  release: () => Promise.resolve(),
});

class SharedLeases implements LeaseKeeper {
  readonly shared = true;
  /** The calls this instance held at its last claim. */
  private held: string[] = [];
  private cancelPoll: (() => void) | null = null;
  private unwatch: (() => void) | null = null;
  private stopped = false;

  constructor(
    private readonly store: Store,
    private readonly portalId: string,
    private readonly clock: Clock,
    private readonly o: LeaseOptions,
  ) {}

  claim(now: number): Promise<OutboxEntry[]> {
    return this.store.claimCalls(this.portalId, this.o.owner, this.o.leaseMs, this.o.claimLimit, now);
  }

  async settleRound(
    entries: readonly OutboxEntry[],
    failedNow: readonly EntryUpdate[],
    inFlight: Iterable<OutboxEntry>,
  ): Promise<void> {
    const nowFailed = new Set(failedNow.map((f) => f.id));
    const open = new Set(
      entries
        .filter((e) => (e.status === 'pending' || e.status === 'in_flight') && !nowFailed.has(e.id))
        .map((e) => e.callKey),
    );
    for (const e of inFlight) open.add(e.callKey);
    const settled = [...new Set(entries.map((e) => e.callKey))].filter((key) => !open.has(key));
    await this.store.releaseCalls(this.portalId, this.o.owner, settled);
    this.held = [...open];
  }

  start(poll: () => Promise<void>, changed: () => void): void {
    this.unwatch = this.store.watchOutbox?.(this.portalId, changed) ?? null;
    const arm = (): void => {
      if (this.stopped) return;
      this.cancelPoll = this.clock.setTimer(this.o.pollMs, () => {
        this.cancelPoll = null;
        void poll().then(arm, arm);
      });
    };
    arm();
  }

  stop(): void {
    this.stopped = true;
    this.cancelPoll?.();
    this.cancelPoll = null;
    this.unwatch?.();
    this.unwatch = null;
  }

  async release(): Promise<void> {
    if (!this.stopped || this.held.length === 0) return;
    const held = this.held;
    this.held = [];
    await this.store.releaseCalls(this.portalId, this.o.owner, held);
  }
}

/** The keeper the store calls for: leases on a shared store, none on a store of one process. */
export function leaseKeeper(
  store: Store,
  portalId: string,
  clock: Clock,
  options: Partial<LeaseOptions> = {},
): LeaseKeeper {
  if (!store.shared) return soleOwner(store, portalId);
  return new SharedLeases(store, portalId, clock, {
    owner: `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`,
    leaseMs: 10_000,
    pollMs: 1_000,
    claimLimit: 100,
    ...options,
  });
}
