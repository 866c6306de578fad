/**
 * The call engine: PBX events and Bitrix24 results in, Bitrix24 operations, PBX commands and
 * timers out. Pure: no I/O, no clock, no randomness; time and ids come in with the inputs.
 */
export { createEngine, type Engine } from './engine.ts';
export type { DirectoryEntry, EngineConfig, LineConfig } from './config.ts';
export { EngineConfigError } from './config.ts';
export type * from './inputs.ts';
export type * from './effects.ts';
export type { Call, EngineState } from './state.ts';
export { allCalls, findCallByKey, getCall } from './state.ts';
export { pendingOriginations } from './requests.ts';
