/** The Bitrix24 application: install, event authentication, the app page and its sessions. */
export { BitrixApp, type BitrixAppDeps } from './bitrix-app.ts';
export { boundEvents, grantedScopes, registerLines } from './install.ts';
export { verifyInstall, verifyUserToken, type InstallClaim, type VerifiedInstall } from './verify.ts';
export {
  parseBitrixEvent,
  type BitrixEvent,
  type BitrixEventAuth,
  type BitrixEventHandler,
  type BitrixEventOutcome,
} from './event.ts';
export { parseInstallCallback, type InstallCallback, type InstallHandler } from './install-callback.ts';
export { appActions, type AppOpenRequest, type AppPageHandler, type AppPageView } from './page.ts';
