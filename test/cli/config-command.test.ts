/** `b24-bridge config schema` and `config show`, as a person runs them. */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { configJsonSchema } from '../../src/config/index.ts';
import { bridgeBin, tempDir } from '../e2e/processes.ts';

const tmp = tempDir('b24-config-cmd-');
afterAll(() => tmp.cleanup());

const run = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  spawnSync(process.execPath, [bridgeBin, ...args], { env: { ...process.env, ...env }, encoding: 'utf8' });

describe('b24-bridge config', () => {
  it('schema prints the JSON Schema editors read, the same as docs/config.schema.json', () => {
    const out = run(['config', 'schema']);
    expect(out.status).toBe(0);
    const printed = JSON.parse(out.stdout) as Record<string, unknown>;
    expect(printed).toEqual(configJsonSchema());
    const shipped = JSON.parse(
      readFileSync(fileURLToPath(new URL('../../docs/config.schema.json', import.meta.url)), 'utf8'),
    ) as unknown;
    expect(printed).toEqual(shipped);
    expect(printed.properties).toHaveProperty('engine');
  });

  it('show prints the configuration as the bridge reads it: defaults filled in, secrets redacted', () => {
    const file = join(tmp.dir, 'bridge.yaml');
    writeFileSync(
      file,
      'bitrix: { mode: app, clientId: local.show }\npbx: [{ id: office }]\nengine: { lines: [] }\n',
    );
    const out = run(['config', 'show', '--config', file], {
      B24_BRIDGE_BITRIX_CLIENT_SECRET: 'show-client-secret-1',
      B24_BRIDGE_PBX_OFFICE_TOKEN: 'show-pbx-token-1',
    });
    expect(out.status).toBe(0);
    const shown = JSON.parse(out.stdout) as {
      server: { port: number };
      bitrix: { clientSecret: string; rateLimit: unknown };
      pbx: { token: string; kind: string }[];
    };
    expect(shown.server.port).toBe(3000);
    expect(shown.bitrix.rateLimit).toEqual({ rate: 2, burst: 50 });
    expect(shown.bitrix.clientSecret).toBe('[redacted]');
    expect(shown.pbx[0]).toMatchObject({ token: '[redacted]', kind: 'webhook' });
    expect(out.stdout + out.stderr).not.toContain('show-client-secret-1');
    expect(out.stdout + out.stderr).not.toContain('show-pbx-token-1');
  });

  it('names what is wrong with a file, and asks for a subcommand', () => {
    const bad = join(tmp.dir, 'bad.yaml');
    writeFileSync(
      bad,
      'bitrix: { mode: app, clientId: local.show, clientSecret: s3cret-value-x, colour: red }\n',
    );
    const out = run(['config', 'show', '--config', bad]);
    expect(out.status).toBe(1);
    expect(out.stderr).toContain('bitrix.colour: unknown key');
    expect(out.stderr).not.toContain('s3cret-value-x');
    const none = run(['config']);
    expect(none.status).toBe(2);
    expect(none.stderr).toContain('config needs a subcommand: schema or show');
  });
});
