/** The Bitrix24 application: install, event authentication, the app page and its sessions. */
export { BitrixApp, type BitrixAppDeps } from './bitrix-app.ts';
export { boundEvents, registerLines, verifyInstall } from './install.ts';
