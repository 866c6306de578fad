/** The Bitrix24 application: install, event authentication, the app page and its sessions. */
export { BitrixApp } from './bitrix-app.ts';
export { boundEvents, grantedScopes } from './install.ts';
export { parseBitrixEvent, type BitrixEvent, type BitrixEventHandler } from './event.ts';
export { parseInstallCallback, type InstallCallback, type InstallHandler } from './install-callback.ts';
export { appActions, type AppPageHandler, type AppPageView } from './page.ts';
