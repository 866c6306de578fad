/** The HTTP server: the PBX API (`/pbx/v1`), the Bitrix24 install callback, `/healthz`. */
export { buildServer, type BridgeServer, type ServerOptions } from './server.ts';
export { errorAnswer, ServerError, type ErrorBody } from './errors.ts';
export { parseInstallCallback, type InstallCallback, type InstallHandler } from './install.ts';
export type { EventIntake, PbxApiOptions } from './pbx-api.ts';
export {
  parseBitrixEvent,
  type BitrixEvent,
  type BitrixEventAuth,
  type BitrixEventHandler,
  type BitrixEventOutcome,
} from './bitrix-events.ts';
export { appActions, type AppOpenRequest, type AppPageHandler, type AppPageView } from './app-page.ts';
export { parseNestedForm, FormError, type FormObject, type FormValue } from './form.ts';
