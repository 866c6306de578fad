/** Recordings the PBX hands the bridge: kept until the portal has fetched them. */
export { RecordingStore, RecordingStoreError, type RecordingFile } from './store.ts';
