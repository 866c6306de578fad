/**
 * The simulated office: who sits at which extension and how quickly they pick up, how long people
 * talk and wait, and the demo's two lines. Defaults match the emulator's seed portal.
 */
import type { SecRange } from './random.ts';
import type { AgentBehaviour, AgentSpec } from './types.ts';

/** The demo's lines: Sales routes by the CRM, Support is a sequential queue. */
export const demoLines = { sales: '+74950000001', support: '+74950000002' } as const;

/** The seed portal's CRM numbers: contact Ivan Petrov, company Romashka, a lead. */
export const knownCallers = ['+79161234567', '+74951112233', '+79031112233'] as const;

/**
 * 100 is Admin, 101–103 Anna, Boris and Chen, each a little slower and less reliable than the
 * last so queues visibly move on; 104 is a phone nobody answers (no user in the portal).
 */
export const demoAgents: readonly AgentSpec[] = [
  { extension: '100', answerProbability: 0.5, answerAfterSec: [3, 8] },
  { extension: '101', answerProbability: 0.8, answerAfterSec: [2, 6] },
  { extension: '102', answerProbability: 0.7, answerAfterSec: [3, 8] },
  { extension: '103', answerProbability: 0.6, answerAfterSec: [4, 10] },
  { extension: '104', answerProbability: 0, answerAfterSec: 0 },
];

export const defaultBehaviour: AgentBehaviour = { answerProbability: 0.7, answerAfterSec: [2, 8] };

export interface CalleeSettings {
  /** Chance that the far end of an outgoing call answers. */
  readonly answerProbability: number;
  readonly answerAfterSec: SecRange;
  /** The PBX gives up dialling out after this long. */
  readonly ringTimeoutSec: number;
}

export interface CallSettings {
  readonly talkSec: SecRange;
  readonly callerPatienceSec: SecRange;
  readonly recordingDelaySec: SecRange;
  /** How long a transferred call rings on its new extension before the PBX gives up. */
  readonly transferRingSec: number;
  /** How long an agent's phone rings for a click-to-call before the agent picks it up. */
  readonly originatePickupSec: SecRange;
  readonly callee: CalleeSettings;
  /** Numbers that are lines: a call to one carries it as `line`. */
  readonly lines: readonly string[];
}

export const defaultCallSettings: CallSettings = {
  talkSec: [20, 120],
  callerPatienceSec: [25, 60],
  recordingDelaySec: [2, 8],
  transferRingSec: 30,
  originatePickupSec: [1, 3],
  callee: { answerProbability: 0.8, answerAfterSec: [3, 12], ringTimeoutSec: 30 },
  lines: [demoLines.sales, demoLines.support],
};
