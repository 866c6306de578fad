/** The HTTP server: routes for the PBX API (`/pbx/v1`), Bitrix24, the admin UI, `/healthz`. */
export { buildServer, type BridgeServer, type ServerOptions } from './server.ts';
export { errorAnswer, type ErrorBody } from './errors.ts';
export type { EventIntake, PbxApiOptions } from './pbx-api.ts';
