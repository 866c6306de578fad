/**
 * Prometheus metrics: a small registry with its text exposition, the bridge's own figures, and
 * the process-wide registry that adapters (the Asterisk AMI adapter) write their gauges to.
 */
import { Registry } from './registry.ts';

export { Counter, Gauge, Histogram, Registry, type Labels } from './registry.ts';
export {
  bridgeMetrics,
  collectPortals,
  resultOf,
  scenarioOf,
  watchClient,
  watchOutbox,
  type BridgeMetrics,
  type WatchedPortal,
} from './bridge-metrics.ts';

/** The registry `/metrics` serves. */
export const metrics = new Registry();

/**
 * 1 while the AMI connection of a PBX is up, 0 while it is not: `amiConnected.set({pbx: id}, 1)`.
 * No series at all until an AMI adapter sets one.
 */
export const amiConnected = metrics.gauge(
  'b24_bridge_ami_connected',
  'AMI connection state per PBX (1 up, 0 down).',
);
