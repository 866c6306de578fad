/** One connected portal: its typed API, its engine and extension directory, its outbox. */
export { connectPortal, directoryOf, type ConnectContext, type PortalRuntime } from './portal.ts';
export { directoryCachePath, removeDirectoryCache } from './directory-cache.ts';
