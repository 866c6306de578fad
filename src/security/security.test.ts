import { describe, expect, it } from 'vitest';
import { checkPublicUrl, isPublicAddress, MemoryAttemptLimiter, SeenRecently } from './index.ts';

describe('public addresses', () => {
  it('refuses loopback, private, link-local, metadata and mapped forms; takes public ones', () => {
    for (const a of [
      '127.0.0.1',
      '10.0.0.8',
      '172.20.1.1',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '::1',
      'fe80::1',
      'fd00:ec2::254',
      '::ffff:127.0.0.1',
      '::ffff:7f00:1',
      '::ffff:a9fe:a9fe',
      'not-an-ip',
    ])
      expect(isPublicAddress(a), a).toBe(false);
    for (const a of ['8.8.8.8', '93.184.216.34', '2606:4700::1111', '::ffff:8.8.8.8'])
      expect(isPublicAddress(a), a).toBe(true);
  });

  it('checks names after resolution; an allow-list opens what it names and closes the rest', async () => {
    const lookup = (host: string) =>
      Promise.resolve(
        host === 'inside.example' ? ['8.8.8.8', '10.0.0.1'] : host === 'out.example' ? ['8.8.4.4'] : [],
      );
    expect(await checkPublicUrl('https://inside.example/r.mp3', { lookup })).toEqual({
      ok: false,
      reason: 'not-public',
    });
    expect(await checkPublicUrl('https://out.example/r.mp3', { lookup })).toEqual({ ok: true });
    expect(await checkPublicUrl('https://nowhere.example/r.mp3', { lookup })).toEqual({
      ok: true,
      unresolved: true,
    });
    expect(await checkPublicUrl('http://LOCALHOST./x', { lookup })).toMatchObject({ ok: false });
    expect(await checkPublicUrl('http://10.0.0.1/x', { allowHosts: ['10.0.0.1'] })).toEqual({ ok: true });
    expect(await checkPublicUrl('https://out.example/x', { allowHosts: ['10.0.0.1'] })).toEqual({
      ok: false,
      reason: 'not-allowed',
    });
    const slow = () => new Promise<string[]>(() => undefined);
    expect(await checkPublicUrl('https://slow.example/x', { lookup: slow, lookupTimeoutMs: 10 })).toEqual({
      ok: true,
      unresolved: true,
    });
  });
});

describe('attempt limits', () => {
  it('locks a key out once it used its attempts within the window, for the lockout, then starts afresh', () => {
    const l = new MemoryAttemptLimiter({ max: 3, windowMs: 1000, lockoutMs: 5000 });
    l.record('a', 0);
    l.record('a', 100);
    expect(l.check('a', 200)).toEqual({ allowed: true });
    l.record('a', 200);
    expect(l.check('a', 300)).toEqual({ allowed: false, retryAfterMs: 4900 });
    expect(l.check('b', 300)).toEqual({ allowed: true });
    expect(l.check('a', 5200)).toEqual({ allowed: true });
    l.record('a', 5300);
    expect(l.check('a', 5300)).toEqual({ allowed: true });
    // Attempts older than the window do not count.
    const w = new MemoryAttemptLimiter({ max: 2, windowMs: 1000, lockoutMs: 5000 });
    w.record('k', 0);
    w.record('k', 1500);
    expect(w.check('k', 1500)).toEqual({ allowed: true });
  });

  it('remembers keys for its window only', () => {
    const seen = new SeenRecently(1000);
    expect(seen.check('x', 0)).toBe(false);
    expect(seen.check('x', 500)).toBe(true);
    expect(seen.check('x', 1500)).toBe(false);
    seen.forget('x');
    expect(seen.check('x', 1600)).toBe(false);
  });
});
