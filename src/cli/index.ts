/** The command line's parts, for tests and other entry points (the bin runs `main.ts`). */
export { startDemo, demoBanner, DEMO_ADMIN_PASSWORD, type Demo, type DemoOptions } from './demo.ts';
export { readStatus, formatStatus, type PortalStatus } from './status.ts';
export {
  replay,
  formatWaiting,
  waitingOf,
  ReplayError,
  type ReplayOptions,
  type ReplayOutcome,
  type PortalReplay,
  type Waiting,
} from './replay.ts';
