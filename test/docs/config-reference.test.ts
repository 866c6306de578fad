/**
 * docs/configuration.md and docs/config.schema.json are generated from the schema
 * (`npm run docs:config`); this fails while the files in the repository differ from what the
 * schema says now, and while a key has no description.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  configReference,
  configSchemaFile,
  configSections,
  referencePath,
  schemaPath,
  undescribedKeys,
} from '../../scripts/config-docs.ts';
import { parseConfig } from '../../src/config/index.ts';

describe('the configuration reference', () => {
  it('is what the schema says now (run npm run docs:config after changing the schema)', async () => {
    expect(readFileSync(referencePath, 'utf8'), 'docs/configuration.md is stale: npm run docs:config').toBe(
      await configReference(),
    );
    expect(readFileSync(schemaPath, 'utf8'), 'docs/config.schema.json is stale: npm run docs:config').toBe(
      await configSchemaFile(),
    );
  });

  it('describes every key (a .describe() text in src/config/schema.ts)', () => {
    expect(undescribedKeys()).toEqual([]);
  });

  it('names every key with its default, the nested and per-kind ones too', () => {
    const rows = new Map(configSections().flatMap((s) => s.rows.map((r) => [r.key, r])));
    expect(rows.get('server.port')?.default).toBe('`3000`');
    expect(rows.get('store.path')?.default).toBe('`"data/bridge.sqlite"`');
    expect(rows.get('engine.recording.maxWaitSec')?.default).toBe('`300`');
    expect(rows.get('pbx[].ami.devicePattern')?.default).toBe('`["PJSIP/{ext}","SIP/{ext}"]`');
    expect(rows.get('engine.lines[].routing.queue.members')?.type).toContain('**required**');
    expect(rows.get('bitrix.clientSecret')?.type).toContain('secret');
    expect(rows.get('bitrix.clientSecret')?.description).toContain('`B24_BRIDGE_BITRIX_CLIENT_SECRET`');
    expect(rows.get('engine.lines')?.default).toBe('below the table');
  });

  it('gives the defaults the bridge applies', () => {
    const parsed = parseConfig({
      bitrix: { mode: 'app', clientId: 'local.x', clientSecret: 'client-secret-1' },
      pbx: [{ id: 'office', token: 'pbx-token-1' }],
    });
    if (!parsed.ok) throw parsed.error;
    const rows = new Map(configSections().flatMap((s) => s.rows.map((r) => [r.key, r.default])));
    const { config } = parsed;
    const shown = (value: unknown): string => `\`${JSON.stringify(value)}\``;
    expect(rows.get('server.host')).toBe(shown(config.server.host));
    expect(rows.get('engine.ringTimeoutSec')).toBe(shown(config.engine.ringTimeoutSec));
    expect(rows.get('logging.format')).toBe(shown(config.logging.format));
    expect(rows.get('pbx[].kind')).toBe(shown(config.pbx[0]?.kind));
    expect(rows.get('bitrix.directoryRefreshSec')).toBe(
      shown(config.bitrix.mode === 'app' ? config.bitrix.directoryRefreshSec : null),
    );
  });
});
