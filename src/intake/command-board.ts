/**
 * Commands waiting for each PBX (`GET /pbx/v1/commands`, `POST /pbx/v1/commands/{id}/ack`).
 *
 * Kept in memory for now: the store has no table for PBX commands yet, so a restart forgets the
 * commands not yet acknowledged (the engine's originate/transfer timeouts then give up on them).
 * A command handed out is not handed out again until `redeliverAfterMs` passes without an ack, so
 * a PBX that polls again before acknowledging does not spin on the same command; its `commandId`
 * is stable, so a PBX that does get it twice recognises it.
 */
import type { PbxCommand } from '../pbx/index.ts';

const MAX_REMEMBERED_ACKS = 10_000;

interface Held {
  command: PbxCommand;
  /** Epoch ms until which it is with the PBX, awaiting the ack; 0: waiting to be handed out. */
  handedOutUntil: number;
}

interface Waiter {
  limit: number;
  resolve: (commands: PbxCommand[]) => void;
}

interface CommandBoardOptions {
  redeliverAfterMs?: number;
  now?: () => number;
}

export class CommandBoard {
  private readonly byPbx = new Map<string, Map<string, Held>>();
  private readonly waiters = new Map<string, Set<Waiter>>();
  private readonly acked = new Set<string>();
  private readonly redeliverAfterMs: number;
  private readonly now: () => number;

  constructor(options: CommandBoardOptions = {}) {
    this.redeliverAfterMs = options.redeliverAfterMs ?? 60_000;
    this.now = options.now ?? Date.now;
  }

  /** Queues a command for a PBX; a command already queued (same id) is not queued twice. */
  post(pbxId: string, command: PbxCommand): void {
    let held = this.byPbx.get(pbxId);
    if (!held) {
      held = new Map();
      this.byPbx.set(pbxId, held);
    }
    // Acknowledged already: a late second dispatch of the same command must not queue it again.
    if (held.has(command.commandId) || this.acked.has(`${pbxId}\n${command.commandId}`)) return;
    held.set(command.commandId, { command, handedOutUntil: 0 });
    const waiter = this.waiters.get(pbxId)?.values().next().value;
    if (waiter) {
      this.waiters.get(pbxId)?.delete(waiter);
      waiter.resolve(this.handOut(pbxId, waiter.limit));
    }
  }

  /**
   * The commands due for a PBX, at most `limit`; when there are none, waits up to `waitMs` for one.
   * `signal` ends the wait early (the PBX hung up, or the server is closing) with `[]`.
   */
  take(pbxId: string, limit: number, waitMs: number, signal?: AbortSignal): Promise<PbxCommand[]> {
    const due = this.handOut(pbxId, limit);
    if (due.length > 0 || waitMs <= 0 || signal?.aborted === true) return Promise.resolve(due);
    return new Promise((resolve) => {
      let set = this.waiters.get(pbxId);
      if (!set) {
        set = new Set();
        this.waiters.set(pbxId, set);
      }
      const waiters = set;
      const finish = (commands: PbxCommand[]): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        resolve(commands);
      };
      const waiter: Waiter = { limit, resolve: finish };
      const onAbort = (): void => {
        waiters.delete(waiter);
        finish([]);
      };
      const timer = setTimeout(onAbort, waitMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      waiters.add(waiter);
    });
  }

  /**
   * Removes an acknowledged command. `repeat`: it was acknowledged before (harmless, per the API);
   * `unknown`: this PBX was never sent such a command.
   */
  ack(pbxId: string, commandId: string): 'acked' | 'repeat' | 'unknown' {
    const held = this.byPbx.get(pbxId);
    if (held?.delete(commandId) === true) {
      this.acked.add(`${pbxId}\n${commandId}`);
      // Remembered for repeats only; the oldest are forgotten first (a Set keeps insertion order).
      if (this.acked.size > MAX_REMEMBERED_ACKS) {
        const oldest = this.acked.values().next().value;
        if (oldest !== undefined) this.acked.delete(oldest);
      }
      return 'acked';
    }
    return this.acked.has(`${pbxId}\n${commandId}`) ? 'repeat' : 'unknown';
  }

  /**
   * Takes back the transfers of a call that the PBX has not fetched yet: the call was answered or
   * ended, and a transfer the engine asked for while it rang (the responsible manager, S3) would now
   * pull an answered call away from whoever took it. One already handed out is the PBX's to judge.
   */
  withdrawTransfers(pbxId: string, callId: string): number {
    const held = this.byPbx.get(pbxId);
    if (!held) return 0;
    let withdrawn = 0;
    for (const [id, entry] of held) {
      if (entry.command.type !== 'transfer' || entry.command.callId !== callId || entry.handedOutUntil !== 0)
        continue;
      held.delete(id);
      withdrawn++;
    }
    return withdrawn;
  }

  /** Commands of a PBX not yet acknowledged (for the admin view and tests). */
  pending(pbxId: string): PbxCommand[] {
    return [...(this.byPbx.get(pbxId)?.values() ?? [])].map((h) => h.command);
  }

  /** Ends every long poll with `[]` (shutdown). */
  close(): void {
    for (const set of this.waiters.values()) for (const w of [...set]) w.resolve([]);
    this.waiters.clear();
  }

  private handOut(pbxId: string, limit: number): PbxCommand[] {
    const now = this.now();
    const out: PbxCommand[] = [];
    for (const entry of this.byPbx.get(pbxId)?.values() ?? []) {
      if (out.length >= limit) break;
      if (entry.handedOutUntil > now) continue;
      entry.handedOutUntil = now + this.redeliverAfterMs;
      out.push(entry.command);
    }
    return out;
  }
}
