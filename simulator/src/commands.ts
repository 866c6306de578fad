/**
 * The PBX's side of the command channel for a PBX that cannot receive webhooks: it long-polls
 * `GET /pbx/v1/commands`, carries each command out once (a repeated `commandId` is acknowledged
 * again with the first outcome, never acted on twice), and acknowledges it.
 */
import type { PbxCommand } from '../../src/pbx/types.ts';
import { commandSchema } from '../../src/pbx/webhook/index.ts';
import { backoffMs, type BackoffOptions } from './backoff.ts';
import type { BridgeClient } from './bridge-client.ts';
import type { SimClock } from './clock.ts';
import type { Random } from './random.ts';
import type { CommandOutcome } from './switchboard.ts';
import type { SimulatorEventMap } from './types.ts';

export interface CommandPollOptions {
  /** How long the bridge may hold one poll (default 25 s, the API allows 0–28). */
  readonly waitSec?: number;
  /** Commands per answer (default 50). */
  readonly limit?: number;
  readonly retry?: BackoffOptions;
}

type Report = <K extends keyof SimulatorEventMap>(name: K, ...args: SimulatorEventMap[K]) => void;

/** Acknowledgements are small and idempotent; after this many failed attempts the bridge re-sends anyway. */
const ACK_ATTEMPTS = 6;

export class CommandPoller {
  private readonly abort = new AbortController();
  private readonly outcomes = new Map<string, CommandOutcome>();
  received = 0;

  constructor(
    private readonly client: BridgeClient,
    private readonly clock: SimClock,
    private readonly random: Random,
    private readonly report: Report,
    private readonly execute: (command: PbxCommand) => CommandOutcome,
    private readonly options: CommandPollOptions = {},
  ) {}

  start(): void {
    void this.loop();
  }

  stop(): void {
    this.abort.abort();
  }

  /** A backoff on the simulator's clock that `stop()` cuts short, so nothing outlives the simulator. */
  private wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        cancel();
        this.abort.signal.removeEventListener('abort', done);
        resolve();
      };
      const cancel = this.clock.setTimer(ms, done);
      this.abort.signal.addEventListener('abort', done);
    });
  }

  private isStopped(): boolean {
    return this.abort.signal.aborted;
  }

  private async loop(): Promise<void> {
    const waitSec = this.options.waitSec ?? 25;
    const path = `/pbx/v1/commands?wait=${waitSec}&limit=${this.options.limit ?? 50}`;
    let failures = 0;
    while (!this.isStopped()) {
      const outcome = await this.client.poll(path, waitSec * 1000, this.abort.signal);
      if (this.isStopped()) return;
      if (outcome.kind === 'ok') {
        failures = 0;
        this.accept(outcome.body);
        continue;
      }
      if (outcome.kind === 'rejected') {
        this.report('bridge.rejected', { request: 'commands', status: outcome.status, body: outcome.body });
        // Asking again at once would be refused again: wait the longest backoff.
        failures = 30;
      }
      const delayMs = backoffMs(failures, this.options.retry ?? {}, this.random);
      if (outcome.kind === 'retry')
        this.report('bridge.retry', {
          request: 'commands',
          attempt: failures + 1,
          delayMs,
          problem: outcome.problem,
        });
      failures++;
      await this.wait(delayMs);
    }
  }

  private accept(body: unknown): void {
    const list: unknown[] = Array.isArray(body) ? body : [];
    for (const item of list) {
      const parsed = commandSchema.safeParse(item);
      if (!parsed.success) {
        // The bridge's bug, not ours; say so rather than guess what it meant.
        this.report('bridge.rejected', { request: 'commands', status: 200, body: JSON.stringify(item) });
        continue;
      }
      const { commandId, callId, extension, number } = parsed.data;
      const command: PbxCommand =
        parsed.data.type === 'originate'
          ? { commandId, type: 'originate', callId, extension, number: number ?? '' }
          : { commandId, type: 'transfer', callId, extension };
      this.received++;
      this.report('command.received', command);
      let outcome = this.outcomes.get(commandId);
      if (outcome === undefined) {
        outcome =
          command.type === 'originate' && command.number === ''
            ? { status: 'failed', reason: 'originate without a number' }
            : this.execute(command);
        this.outcomes.set(commandId, outcome);
      }
      void this.ack(command, outcome);
    }
  }

  private async ack(command: PbxCommand, outcome: CommandOutcome): Promise<void> {
    const path = `/pbx/v1/commands/${encodeURIComponent(command.commandId)}/ack`;
    for (let attempt = 0; attempt < ACK_ATTEMPTS && !this.isStopped(); attempt++) {
      const result = await this.client.request('POST', path, outcome);
      if (result.kind === 'ok') {
        this.report('command.acked', { command, ...outcome });
        return;
      }
      if (result.kind === 'rejected') {
        this.report('bridge.rejected', { request: 'ack', status: result.status, body: result.body });
        return;
      }
      const delayMs = backoffMs(attempt, this.options.retry ?? {}, this.random);
      this.report('bridge.retry', { request: 'ack', attempt: attempt + 1, delayMs, problem: result.problem });
      await this.wait(delayMs);
    }
  }
}
