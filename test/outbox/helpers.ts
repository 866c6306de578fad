import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EngineConfig, EngineInput } from '../../src/core/index.ts';
import { office } from '../../src/core/testkit.ts';
import type { Outbox, OutboxEvents } from '../../src/outbox/index.ts';

export { ManualClock } from '../support/clock.ts';

export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'b24-outbox-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The test office, finishing calls at hang-up (no recording wait) so every call ends in a finish. */
export const config: EngineConfig = { ...office, recording: { maxWaitSec: 0, hideGraceSec: 0 } };

export const extensions = ['101', '102', '103'] as const;
export const userOfExtension: Readonly<Record<string, number>> = { '101': 2, '102': 3, '103': 4 };

export interface PlannedCall {
  callId: string;
  startedAt: number;
  extension: string;
  userId: number;
  durationSec: number;
  inputs: { input: EngineInput; dedupeKey: string }[];
}

/** An inbound call from outside straight to an extension: started, ringing, answered, ended. */
export function inboundCall(n: number, startedAt: number): PlannedCall {
  const callId = `pbx-${n}`;
  const extension = extensions[n % extensions.length] ?? '101';
  const durationSec = 10 + (n % 50);
  const ring = startedAt + 2000;
  const answered = ring + 3000;
  const ended = answered + durationSec * 1000;
  const from = `+7916${String(1_000_000 + n).padStart(7, '0')}`;
  const inputs: EngineInput[] = [
    { type: 'call.started', callId, at: startedAt, direction: 'inbound', from, to: extension },
    { type: 'call.ringing', callId, at: ring, extensions: [extension] },
    { type: 'call.answered', callId, at: answered, extension },
    { type: 'call.ended', callId, at: ended, reason: 'completed' },
  ];
  return {
    callId,
    startedAt,
    extension,
    userId: userOfExtension[extension] ?? 0,
    durationSec,
    inputs: inputs.map((input) => ({ input, dedupeKey: `${callId}/${input.type}` })),
  };
}

/** Engine time of an input: when it happened on the PBX. */
export const timeOf = (input: EngineInput): number => ('at' in input ? input.at : 0);

/** Resolves at the first event of that name satisfying `accept` (or at once if `ready()` holds). */
export function until<K extends keyof OutboxEvents>(
  outbox: Outbox,
  event: K,
  accept: (...args: OutboxEvents[K]) => boolean,
): Promise<void> {
  return new Promise((resolve) => {
    const listener = (...args: OutboxEvents[K]): void => {
      if (!accept(...args)) return;
      outbox.off(event, listener as never);
      resolve();
    };
    outbox.on(event, listener as never);
  });
}

export type { EmulatorCall } from '../e2e/processes.ts';
