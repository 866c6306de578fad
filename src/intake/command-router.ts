/**
 * Carries the engine's transfers and originations to the PBX whose call they are about: POSTed to
 * the PBX's `commandUrl` when it has one (a 2xx acknowledges the command), otherwise queued on the
 * CommandBoard for `GET /pbx/v1/commands`. Effects may reach it twice (the answer of `accept` and
 * the outbox's `pbx` event of the same step): it acts on a `commandId` once.
 */
import { BoundedMap } from '../kit/index.ts';
import type { PbxEffect } from '../core/index.ts';
import { commandOf, type PbxCommand } from '../pbx/index.ts';
import { delay, exactPolicy, type RetryPolicy } from '../retry/index.ts';
import type { CommandBoard } from './command-board.ts';

const MAX_REMEMBERED = 10_000;

interface CommandTarget {
  id: string;
  /** A secret (it may carry credentials): never logged. */
  commandUrl?: string | undefined;
  token: string;
}

interface CommandRouterOptions {
  pbxes: readonly CommandTarget[];
  board: CommandBoard;
  /** POST attempts before a command falls back to the long poll. Default 5. */
  attempts?: number | undefined;
  /** First delay between attempts (doubling). Default 500 ms. */
  retryDelayMs?: number | undefined;
  fetch?: typeof fetch | undefined;
  /** Told when a POST failed for good (the command then waits at the long poll). */
  onPostFailed?: ((pbxId: string, commandId: string, reason: string) => void) | undefined;
}

export class CommandRouter {
  private readonly callOwners = new BoundedMap<string, string>(MAX_REMEMBERED);
  private readonly sent = new BoundedMap<string, true>(MAX_REMEMBERED);
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly executors = new Map<string, (command: PbxCommand) => Promise<void>>();
  private closed = false;
  /** Doubling from `retryDelayMs`; exact, since one bridge posts to each PBX on its own. */
  private readonly retry: RetryPolicy;

  constructor(private readonly o: CommandRouterOptions) {
    const first = o.retryDelayMs ?? 500;
    this.retry = exactPolicy(first, Math.max(first, 30_000));
  }

  /** Which PBX reported a call (by the PBX's own `callId`): its commands go back there. */
  remember(pbxId: string, callId: string): void {
    this.callOwners.set(callId, pbxId);
  }

  /**
   * Transfers and originations of any step; plans are answered in place by `/route`.
   * `pbxIdHint`: the PBX whose request produced them. `portalPbxId`: the PBX serving the portal
   * of the step, for a call the bridge started itself (click-to-call, callback) that belongs to no
   * PBX yet.
   */
  dispatch(effects: readonly PbxEffect[], pbxIdHint?: string, portalPbxId?: string): void {
    for (const effect of effects) {
      if (effect.type === 'pbx.plan') continue;
      if (this.sent.get(effect.commandId)) continue;
      const pbxId = pbxIdHint ?? this.callOwners.get(effect.callId) ?? portalPbxId ?? this.o.pbxes[0]?.id;
      if (pbxId === undefined) continue;
      this.sent.set(effect.commandId, true);
      this.callOwners.set(effect.callId, pbxId);
      const command = commandOf(effect);
      const execute = this.executors.get(pbxId);
      const target = this.o.pbxes.find((p) => p.id === pbxId);
      if (execute) void this.execute(pbxId, command, execute, 1);
      else if (target?.commandUrl === undefined) this.o.board.post(pbxId, command);
      else void this.post(target, command, target.commandUrl, 1);
    }
  }

  /**
   * A PBX the bridge talks to itself (an adapter, such as Asterisk over AMI): its commands go to
   * `execute` instead of a command URL or the long poll, retried like a POST while it is unreachable.
   */
  attach(pbxId: string, execute: (command: PbxCommand) => Promise<void>): void {
    this.executors.set(pbxId, execute);
  }

  private async execute(
    pbxId: string,
    command: PbxCommand,
    execute: (command: PbxCommand) => Promise<void>,
    attempt: number,
  ): Promise<void> {
    if (this.closed) return;
    try {
      await execute(command);
      return;
    } catch (e) {
      const code = (e as { code?: string }).code ?? (e as Error).name;
      // Only a command the PBX never received is worth another try; the adapter dedupes the rest
      // (and says itself why a command failed: the router has no long poll to fall back on here).
      if (code !== 'PBX_UNREACHABLE' || attempt >= (this.o.attempts ?? 5)) return;
    }
    const timer = setTimeout(
      () => {
        this.timers.delete(timer);
        void this.execute(pbxId, command, execute, attempt + 1);
      },
      delay(this.retry, attempt),
    );
    this.timers.add(timer);
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private async post(
    target: CommandTarget,
    command: PbxCommand,
    url: string,
    attempt: number,
  ): Promise<void> {
    if (this.closed) return;
    const attempts = this.o.attempts ?? 5;
    let reason: string;
    try {
      const res = await (this.o.fetch ?? fetch)(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${target.token}` },
        body: JSON.stringify(command),
        signal: AbortSignal.timeout(10_000),
      });
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) return;
      reason = `HTTP ${String(res.status)}`;
    } catch (e) {
      // The URL may hold credentials: only the error's code or name goes into the reason.
      reason = (e as { code?: string }).code ?? (e as Error).name;
    }
    if (attempt >= attempts) {
      this.o.onPostFailed?.(target.id, command.commandId, reason);
      // Not lost: the PBX can still fetch it.
      this.o.board.post(target.id, command);
      return;
    }
    const timer = setTimeout(
      () => {
        this.timers.delete(timer);
        void this.post(target, command, url, attempt + 1);
      },
      delay(this.retry, attempt),
    );
    this.timers.add(timer);
  }
}
