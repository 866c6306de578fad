/**
 * Card latency at a fixed office load: recorded direct calls at a steady rate for a while, the
 * portal answering at once and with its real limit (2 requests/s, burst 50). The calls are the
 * capacity phase's (ringing, answered 2 s later, the hang-up after the talk, the recording half a
 * second after it), one step long; the figure is the 99th percentile over every call of the run.
 */
import { capacity, type StepResult } from './capacity.ts';
import type { Target } from './targets.ts';

export interface LatencyRun {
  callsPerMinute: number;
  seconds: number;
  talkSec: number;
  recordingUrl: (callId: string) => string;
}

export async function cardLatencyAt(target: Target, run: LatencyRun): Promise<StepResult> {
  const result = await capacity(target, {
    steps: [run.callsPerMinute],
    stepSec: run.seconds,
    talkSec: run.talkSec,
    recordingUrl: run.recordingUrl,
  });
  const step = result.steps[0];
  if (!step) throw new Error(`no calls ran at ${run.callsPerMinute}/min`);
  return step;
}
