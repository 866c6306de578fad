import { describe, expect, it } from 'vitest';
import { parseConfig } from './index.ts';

const base = {
  bitrix: { mode: 'app', clientId: 'local.app', clientSecret: 'secret-0123456789abcdef' },
  pbx: [{ id: 'a', token: 'token-a-0123456789', portal: 'member-a' }],
} as const;

describe('many portals', () => {
  it('assigns PBXes to portals and gives a portal its own rules', () => {
    const parsed = parseConfig({
      ...base,
      portals: [{ portal: 'b.bitrix24.ru', engine: { defaultUserId: 7, lines: [] } }],
    });
    if (!parsed.ok) throw parsed.error;
    expect(parsed.config.pbx[0]?.portal).toBe('member-a');
    expect(parsed.config.portals[0]?.engine.defaultUserId).toBe(7);
    expect(parsed.config.bitrix.mode === 'app' && parsed.config.bitrix.directoryRefreshSec).toBe(900);
  });

  it('names the key of a bad value', () => {
    const parsed = parseConfig({
      ...base,
      bitrix: { ...base.bitrix, directoryRefreshSec: 5 },
      portals: [{ engine: {} }],
    });
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    const keys = parsed.error.problems.map((p) => p.key);
    expect(keys).toContain('bitrix.directoryRefreshSec');
    expect(keys).toContain('portals[0].portal');
  });
});
