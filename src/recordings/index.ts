/**
 * Recordings the PBX hands the bridge: kept (per portal, for the retention time) until the portal
 * has fetched them through an expiring signed link.
 */
export {
  FileRecordingStore,
  RecordingStoreError,
  type NewRecording,
  type RecordingFile,
  type RecordingStore,
} from './store.ts';
export { PostgresRecordingStore } from './postgres.ts';
export { RecordingLinks, type LinkVerdict } from './links.ts';
export { keepRecordings, type Retention, type RetentionOptions } from './retention.ts';
