/**
 * Prometheus metrics on prom-client: a registry per bridge instance (with the process figures of
 * `collectDefaultMetrics`), and the bridge's own figures, fed from the events of the Bitrix24
 * client and the outboxes.
 */
export { Counter, Gauge, Registry } from './registry.ts';
export {
  bridgeMetrics,
  collectPortals,
  watchClient,
  watchOutbox,
  type BridgeMetrics,
} from './bridge-metrics.ts';
