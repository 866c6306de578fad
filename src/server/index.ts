/** The HTTP server: routes for the PBX API (`/pbx/v1`), Bitrix24, the admin UI, `/healthz`. */
export { buildServer, type BridgeServer, type ServerOptions } from './server.ts';
export type { EventIntake } from './pbx-api.ts';
