import { describe, expect, it, vi } from 'vitest';
import { startTestPortal } from './helpers.ts';

interface Limits {
  rate: number;
  burst: number;
  level: number;
  peak: number;
}

describe('GET /_emulator/limits', () => {
  it('reports the highest level the bucket reached, after it has drained again', async () => {
    // The portal clock frozen between steps, so the drain is exact.
    vi.useFakeTimers({ toFake: ['Date'] });
    const rp = await startTestPortal({ settings: { rateLimit: { rate: 2, burst: 50 } } });
    try {
      const clock = rp.emulator.portal.clock;
      expect((await rp.inspect<Limits>('limits')).body).toMatchObject({ level: 0, peak: 0 });
      await Promise.all(Array.from({ length: 7 }, () => rp.call('scope')));
      clock.advance(1000);
      await rp.call('scope');
      const after = (await rp.inspect<Limits>('limits')).body;
      expect(after).toMatchObject({ rate: 2, burst: 50, level: 6, peak: 7 });
      clock.advance(60_000);
      expect((await rp.inspect<Limits>('limits')).body).toMatchObject({ level: 0, peak: 7 });
    } finally {
      await rp.close();
      vi.useRealTimers();
    }
  });
});
