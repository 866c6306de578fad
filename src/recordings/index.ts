/**
 * Recordings the PBX hands the bridge: kept (per portal, for the retention time) until the portal
 * has fetched them through an expiring signed link.
 */
export { FileRecordingStore, RecordingStoreError, type RecordingStore } from './store.ts';
export { PostgresRecordingStore } from './postgres.ts';
export { RecordingLinks } from './links.ts';
export { keepRecordings } from './retention.ts';
export { downloadRecording } from './download.ts';
