/** The composition root: store, Bitrix24 client, engine + outbox per portal, HTTP server. */
export { bridgeClientRetry, bridgeDataDir, startBridge, type Bridge, type BridgeOptions } from './bridge.ts';
export { connectPortal, readDirectory, type PortalRuntime } from '../portal/index.ts';
export { registerLines, verifyInstall } from '../app/index.ts';
