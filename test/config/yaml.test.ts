/** The configuration file's format comes from its extension: YAML (.yaml, .yml) or JSON (.json). */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/index.ts';

const yaml = `# a comment
bitrix:
  mode: app
  clientId: local.yaml
  clientSecret: yaml-client-secret   # comments after values too
pbx:
  - id: office
    token: yaml-pbx-token
engine:
  lines: []
`;

const json = JSON.stringify({
  bitrix: { mode: 'app', clientId: 'local.json', clientSecret: 'json-client-secret' },
  pbx: [{ id: 'office', token: 'json-pbx-token' }],
  engine: { lines: [] },
});

const load = (file: string, text: string) => loadConfig({ file, env: {}, readFile: () => text });

function failure(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('the configuration file', () => {
  it('is read as YAML when it ends in .yaml or .yml, and as JSON when it ends in .json', () => {
    for (const file of ['bridge.yaml', 'bridge.yml', '/etc/b24-bridge/BRIDGE.YAML']) {
      const { config, warnings } = load(file, yaml);
      expect(config.bitrix.mode === 'app' && config.bitrix.clientId).toBe('local.yaml');
      expect(config.pbx[0]?.token).toBe('yaml-pbx-token');
      expect(warnings).toEqual([]);
    }
    expect(load('bridge.json', json).config.pbx[0]?.token).toBe('json-pbx-token');
    // JSON is YAML too, but a .json file is read by the JSON rules (no comments in it).
    expect(load('bridge.yaml', json).config.pbx[0]?.token).toBe('json-pbx-token');
    expect(failure(() => load('bridge.json', yaml)).code).toBe('CONFIG_FILE_MALFORMED');
  });

  it('names no format the bridge reads by any other extension', () => {
    const e = failure(() => load('bridge.conf', json));
    expect(e.code).toBe('CONFIG_FILE_TYPE');
    expect(e.message).toContain('bridge.conf');
    expect(e.message).toMatch(/\.yaml, \.yml or \.json/);
  });

  it('says where YAML is broken, by line and column, and never quotes the file', () => {
    const broken = 'bitrix:\n  clientSecret: [hunter2-secret-value\npbx: 1\n';
    const e = failure(() => load('bridge.yaml', broken));
    expect(e.code).toBe('CONFIG_FILE_MALFORMED');
    expect(e.message).toMatch(/not valid YAML \(line \d+, column \d+\)/);
    expect(e.message).not.toContain('hunter2');
    const twice = failure(() =>
      load('bridge.yaml', 'admin:\n  password: secret-one-1\n  password: secret-two-2\n'),
    );
    expect(twice.message).toMatch(/unique/);
    expect(twice.message).not.toContain('secret-');
  });

  it('asks to quote an extension or a phone number that YAML read as a number', () => {
    const numbers = `${yaml.replace('lines: []', '')}  lines:
    - id: sales
      number: +74950000001
      routing: { kind: queue, queue: { members: [101, '102'] } }
`;
    const e = failure(() => load('bridge.yaml', numbers));
    expect(e.message).toContain(
      'engine.lines[0].number: expected a phone number like "+74950000001", as text: quote it',
    );
    expect(e.message).toContain(
      'engine.lines[0].routing.queue.members[0]: expected an extension like "101", as text',
    );
    expect(e.message).not.toContain('members[1]');
  });

  it('empty (or only comments) is an empty configuration: the problems name what is missing', () => {
    const e = failure(() => load('bridge.yaml', '# nothing yet\n'));
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.message).toContain('bitrix');
    expect(e.message).toContain('pbx');
  });
});
