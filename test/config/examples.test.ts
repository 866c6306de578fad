/**
 * Every file in examples/ is a configuration the bridge starts with: read as `serve --config`
 * reads it (YAML by its extension), with the environment variables its header names, checked by
 * the schema without a warning, and compiled into working engines. Secrets stay out of the files.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadConfig, secretPaths, toEngineConfig } from '../../src/config/index.ts';
import { createEngine } from '../../src/core/index.ts';

const dir = fileURLToPath(new URL('../../examples/', import.meta.url));
const files = readdirSync(dir).filter((f) => /\.(ya?ml|json)$/.test(f));

/** `#   B24_BRIDGE_…   what it is`: the variables a file's header says to set. */
function headerVariables(text: string): string[] {
  return [...text.matchAll(/^#\s+(B24_BRIDGE_[A-Z0-9_]+)\s/gm)].map((m) => m[1] ?? '');
}

/** Whether the document holds a value at a secret's path (`pbx[].token` and the like). */
function holdsSecret(document: unknown, path: string): boolean {
  const walk = (value: unknown, steps: string[]): boolean => {
    const [step, ...rest] = steps;
    if (step === undefined) return value !== undefined;
    if (step === '[]') return Array.isArray(value) && value.some((item) => walk(item, rest));
    if (typeof value !== 'object' || value === null) return false;
    return walk((value as Record<string, unknown>)[step], rest);
  };
  return walk(document, path.replace(/\[\]/g, '.[]').split('.'));
}

describe('the example configurations', () => {
  it('are the five setups of the README, each commented', () => {
    expect(files.sort()).toEqual([
      'asterisk-mirror.yaml',
      'asterisk-route.yaml',
      'cloud-pbx.yaml',
      'postgres-two-instances.yaml',
      'several-portals.yaml',
    ]);
    const readme = readFileSync(join(dir, 'README.md'), 'utf8');
    for (const file of files) {
      expect(readme, `examples/README.md lists ${file}`).toContain(`(${file})`);
      const text = readFileSync(join(dir, file), 'utf8');
      expect(text.split('\n')[0]).toBe('# yaml-language-server: $schema=../docs/config.schema.json');
      expect(text.split('\n').filter((l) => l.trim().startsWith('#')).length).toBeGreaterThan(10);
    }
  });

  describe.each(files)('%s', (file) => {
    const text = readFileSync(join(dir, file), 'utf8');
    const variables = headerVariables(text);

    it('keeps its secrets in the environment, never in the file', () => {
      const document = parse(text) as unknown;
      expect(secretPaths.filter((path) => holdsSecret(document, path))).toEqual([]);
      expect(variables.length).toBeGreaterThan(0);
    });

    it('is a valid configuration with the variables its header names, and makes working engines', () => {
      const env: Record<string, string> = Object.fromEntries(
        variables.map((name) => [
          name,
          name === 'B24_BRIDGE_POSTGRES_URL'
            ? 'postgres://bridge:example-password@db.example.lan:5432/bridge'
            : name.endsWith('_URL')
              ? `https://pbx.example.invalid/${name.toLowerCase()}`
              : `example-${name.toLowerCase()}`,
        ]),
      );
      const { config, warnings } = loadConfig({ file: join(dir, file), env });
      expect(warnings).toEqual([]);
      // Every variable the header names is one the bridge reads.
      expect(variables.filter((v) => v !== 'B24_BRIDGE_STORE_KEY').length).toBeGreaterThan(0);
      for (const rules of [config.engine, ...config.portals.map((p) => p.engine)]) {
        expect(rules.lines.length).toBeGreaterThan(0);
        expect(() => createEngine(toEngineConfig({ ...config, engine: rules }, []))).not.toThrow();
      }
      if (config.bitrix.mode === 'app')
        expect(config.bitrix.clientSecret).toBe(env.B24_BRIDGE_BITRIX_CLIENT_SECRET);
      for (const pbx of config.pbx) {
        expect(pbx.token).toMatch(/^example-b24_bridge_pbx_/);
        const commandUrl = env[`B24_BRIDGE_PBX_${pbx.id.toUpperCase().replace(/-/g, '_')}_COMMAND_URL`];
        expect(pbx.commandUrl).toBe(commandUrl);
      }
    });
  });
});
