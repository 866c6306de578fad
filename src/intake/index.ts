/**
 * The PBX intake: what every PBX side (the HTTP API, the Asterisk adapter) feeds events through,
 * the route answer with its fallback plan, and the commands waiting for each PBX.
 */
export { acceptPbxEvents, routeCall, sha, timedEventKey, type EventIntake } from './pbx-intake.ts';
export { CommandRouter } from './command-router.ts';
export { CommandBoard } from './command-board.ts';
export { fallbackPlan } from './fallback-plan.ts';
export { LiveCallCap } from './live-cap.ts';
