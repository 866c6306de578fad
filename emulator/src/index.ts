export { startEmulator, type Emulator, type EmulatorOptions } from './server.ts';
export { OAuthServer } from './oauth.ts';
export { Portal, type PortalEvents } from './portal/portal.ts';
export { defaultSeed, loadSeedFile, validateSeed, SeedError, type Seed } from './portal/seed.ts';
export { defaultSettings, plans, type Settings, type Faults } from './settings.ts';
export type { Call, Card, CardLogEntry, RequestLogEntry, DeliveryLogEntry } from './portal/model.ts';
export type { AppInstallation } from './apps.ts';
export { parseQuery, encodeForm, type Param, type Params } from './http/params.ts';
