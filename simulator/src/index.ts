/**
 * A simulated PBX for tests and the demo: agents at extensions, callers from known and unknown
 * numbers, plans executed step by step, transfers, click-to-call and recordings, all spoken over
 * the generic PBX API (`/pbx/v1`) to a real bridge.
 */
export { startSimulator, type Simulator, type SimulatorOptions } from './simulator.ts';
export { ManualClock, systemClock, type SimClock } from './clock.ts';
export { seededRandom, type Random, type SecRange } from './random.ts';
export { defaultMix, type SteadyStream, type SteadyStreamOptions, type StreamMix } from './stream.ts';
export { demoAgents, demoLines, knownCallers } from './settings.ts';
export { wavFile } from './recordings.ts';
export type {
  AgentBehaviour,
  AgentSpec,
  BridgeRequest,
  CallSpec,
  EndReason,
  InboundCallSpec,
  OutboundCallSpec,
  SimulatedCallResult,
  SimulatorEventMap,
  SimulatorStats,
} from './types.ts';
