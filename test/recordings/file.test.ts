import { afterAll } from 'vitest';
import { FileRecordingStore } from '../../src/recordings/index.ts';
import { tempDir } from '../e2e/processes.ts';
import { recordingStoreSuite } from './suite.ts';

const dirs: { dir: string; cleanup: () => void }[] = [];
const paths = new WeakMap<object, string>();
afterAll(() => {
  for (const d of dirs) d.cleanup();
});

recordingStoreSuite('file', {
  fresh: async (maxBytes) => {
    const d = tempDir('b24-recordings-');
    dirs.push(d);
    const store = await FileRecordingStore.open(d.dir, maxBytes);
    paths.set(store, d.dir);
    return store;
  },
  again: (store) => FileRecordingStore.open(paths.get(store) ?? '', store.maxBytes),
});
