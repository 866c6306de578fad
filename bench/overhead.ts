/**
 * The target's own time per event at 100 calls/s with the portal's limit off: from the HTTP request
 * carrying a call's ringing arriving at the target to the call's `register` leaving for the portal,
 * both read inside the target's process by one clock (see bridge-child.ts, naive-child.ts). For the
 * bridge that is the PBX API's parsing, the engine's step, the SQLite commit (the durability the
 * naive way lacks), the outbox's plan and the client's batching.
 */
import { agentExtension } from './office.ts';
import { callEvents, Pbx } from './pbx.ts';
import type { Target } from './targets.ts';
import { percentile, sleep } from './util.ts';

export interface OverheadResult {
  p50Ms: number;
  p99Ms: number;
  samples: number;
  /** Registers still not sent 30 s after the last call (counted with their wait so far). */
  unsent: number;
  callsPerSec: number;
  sendErrors: number;
}

export async function overhead(
  target: Target,
  callsPerSec: number,
  seconds: number,
): Promise<OverheadResult> {
  const pbx = new Pbx(target.url);
  await target.child.ask('resetTrace');
  const count = Math.round(callsPerSec * seconds);
  const intervalMs = 1000 / callsPerSec;
  const start = performance.now() + 20;
  let sendErrors = 0;
  const pending: Promise<void>[] = [];
  const fire = (p: Promise<void>): void => {
    pending.push(p.catch(() => void (sendErrors += 1)));
  };
  for (let i = 0; i < count; i++) {
    const wait = start + i * intervalMs - performance.now();
    if (wait > 1) await sleep(wait);
    const c = callEvents(`ovh-${target.kind}-${i}`, 3_000_000 + i);
    const ext = agentExtension(i);
    const t = Date.now();
    fire(pbx.send([c.started(t, ext), c.ringing(t, [ext])], c.callId));
    // Short calls keep a few hundred live, as at a busy call centre, without growing all run long.
    setTimeout(() => fire(pbx.send([c.answered(Date.now(), ext)])), 1000);
    setTimeout(() => fire(pbx.send([c.ended(Date.now())])), 2000);
  }
  await sleep(2500);
  await Promise.all(pending);
  // Every register must have left: a backlog is part of the figure, not left out of it.
  let trace = await target.child.ask<{ overheadsMs: number[]; unsent: number }>('overheads');
  for (const deadline = Date.now() + 30_000; trace.unsent > 0 && Date.now() < deadline;) {
    await sleep(500);
    trace = await target.child.ask('overheads');
  }
  return {
    p50Ms: percentile(trace.overheadsMs, 50),
    p99Ms: percentile(trace.overheadsMs, 99),
    samples: trace.overheadsMs.length,
    unsent: trace.unsent,
    callsPerSec,
    sendErrors,
  };
}
