/** The Bitrix24 application: install, event authentication, the app page and its sessions. */
export { BitrixApp, type BitrixAppDeps } from './bitrix-app.ts';
export { boundEvents, grantedScopes, registerLines } from './install.ts';
export { verifyInstall, verifyUserToken, type InstallClaim, type VerifiedInstall } from './verify.ts';
