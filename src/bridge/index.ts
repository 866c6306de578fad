/** The composition root: store, Bitrix24 client, engine + outbox per portal, HTTP server. */
export { bridgeClientRetry, bridgeDataDir, startBridge, type Bridge, type BridgeOptions } from './bridge.ts';
export { connectPortal, type PortalRuntime } from '../portal/index.ts';
