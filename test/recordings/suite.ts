/**
 * The one recording store suite: what the file store and the PostgreSQL store both promise
 * (`file.test.ts`, `postgres.test.ts` run it).
 */
import { describe, expect, it } from 'vitest';
import type { RecordingStore } from '../../src/recordings/index.ts';

export interface RecordingHarness {
  /** A store of its own. */
  fresh(maxBytes?: number): Promise<RecordingStore>;
  /** Another instance on the same storage (or this one after a restart). */
  again(store: RecordingStore): Promise<RecordingStore>;
}

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

export function recordingStoreSuite(name: string, h: RecordingHarness): void {
  describe(`${name} recording store`, () => {
    it('keeps a recording under a ref another instance serves, with the same link key', async () => {
      const store = await h.fresh();
      const ref = await store.put(
        { portal: 'm1', callId: 'c1', filename: 'c1.mp3', content: bytes('RIFF1') },
        1000,
      );
      expect(ref).toMatch(/^[0-9a-f]{32}-[0-9a-f]{64}$/);
      // The same bytes of the same portal are the same recording.
      expect(
        await store.put({ portal: 'm1', callId: 'c1', filename: 'c1.mp3', content: bytes('RIFF1') }, 2000),
      ).toBe(ref);
      expect(
        await store.put({ portal: 'm2', callId: 'c1', filename: undefined, content: bytes('RIFF1') }, 1000),
      ).not.toBe(ref);
      const other = await h.again(store);
      const file = await other.get(ref);
      expect(Buffer.from(file.content).toString()).toBe('RIFF1');
      expect(file.filename).toBe('c1.mp3');
      expect(other.linkSecret.equals(store.linkSecret)).toBe(true);
    });

    it('refuses a recording over its size, and a ref that is not one, unread', async () => {
      const store = await h.fresh(4);
      await expect(
        store.put({ portal: 'm1', callId: 'c1', filename: undefined, content: bytes('12345') }, 0),
      ).rejects.toMatchObject({ code: 'RECORDING_TOO_LARGE' });
      for (const ref of ['../etc/passwd', `${'a'.repeat(32)}-${'b'.repeat(64)}`, ''])
        await expect(store.get(ref)).rejects.toMatchObject({ code: 'RECORDING_NOT_FOUND' });
    });

    it('deletes what is past its retention, and all of a portal at uninstall', async () => {
      const store = await h.fresh();
      const old = await store.put(
        { portal: 'm1', callId: 'a', filename: undefined, content: bytes('old') },
        1000,
      );
      const recent = await store.put(
        { portal: 'm1', callId: 'b', filename: undefined, content: bytes('new') },
        5000,
      );
      const theirs = await store.put(
        { portal: 'm2', callId: 'c', filename: undefined, content: bytes('m2') },
        5000,
      );
      expect(await store.deleteStoredBefore(2000)).toBe(1);
      await expect(store.get(old)).rejects.toMatchObject({ code: 'RECORDING_NOT_FOUND' });
      expect(await store.deletePortal('m1')).toBe(1);
      await expect(store.get(recent)).rejects.toMatchObject({ code: 'RECORDING_NOT_FOUND' });
      expect(Buffer.from((await store.get(theirs)).content).toString()).toBe('m2');
    });
  });
}
