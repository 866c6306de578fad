import { describe, expect, it } from 'vitest';
import { createEngine, type DirectoryEntry } from '../core/index.ts';
import {
  ConfigError,
  demoDocument,
  loadConfig,
  parseConfig,
  redactConfig,
  secretEnvPattern,
  secretPaths,
  toEngineConfig,
  type BridgeConfig,
  type ConfigResult,
} from './index.ts';

/** The emulator's seed portal, as its users' UF_PHONE_INNER say. */
const portalDirectory: DirectoryEntry[] = [
  { extension: '100', userId: 1 },
  { extension: '101', userId: 2 },
  { extension: '102', userId: 3 },
  { extension: '103', userId: 4 },
];

const minimal = {
  bitrix: { mode: 'webhook', url: 'https://portal.example/rest/1/hook-secret-123/' },
  pbx: [{ id: 'office', token: 'office-token-42' }],
};

function valid(result: ConfigResult): BridgeConfig {
  if (!result.ok) throw result.error;
  return result.config;
}

function invalid(result: ConfigResult): ConfigError {
  if (result.ok) throw new Error('expected a refusal');
  return result.error;
}

describe('configuration defaults', () => {
  it('fill everything but the secrets, with the demo office', () => {
    const result = parseConfig(minimal);
    const config = valid(result);
    expect(config.server).toEqual({ host: '127.0.0.1', port: 3000 });
    expect(config.store).toEqual({ kind: 'sqlite', path: 'data/bridge.sqlite' });
    expect(config.bitrix.rateLimit).toEqual({ rate: 2, burst: 50 });
    expect(config.pbx[0]?.kind).toBe('webhook');
    expect(config.engine.lines.map((l) => [l.id, l.name, l.number, l.routing.kind])).toEqual([
      ['sales', 'Sales', '+74950000001', 'responsible'],
      ['support', 'Support', '+74950000002', 'queue'],
    ]);
    expect(config.engine.lines[1]?.routing).toEqual({
      kind: 'queue',
      queue: { members: ['101', '102', '103'], strategy: 'sequential', memberTimeoutSec: 5 },
    });
    expect(config.engine.defaultLine).toEqual({
      routing: { kind: 'direct' },
      leadCreation: 'inbound',
      crmSource: 'CALL',
      logUnrungCalls: true,
    });
    expect(config.logging).toEqual({ level: 'info', format: 'json' });
    expect(result.ok && result.warnings.some((w) => w.includes('engine.lines is not set'))).toBe(true);
  });

  it('make a working engine for the demo: each routing of the demo office', () => {
    const { config } = loadConfig({
      env: {},
      file: 'demo.json',
      readFile: () =>
        JSON.stringify(
          demoDocument({
            clientId: 'local.demo',
            clientSecret: 'demo-secret-1',
            oauthUrl: 'http://127.0.0.1:39100/oauth/token/',
          }),
        ),
    });
    const engine = createEngine(toEngineConfig(config, portalDirectory));
    const t = 1_773_130_000_000;
    const step = (input: Parameters<typeof engine.step>[1]) =>
      engine.step(engine.initialState(), input, t).effects;

    // S3 on Sales: a register without a card first, to learn the caller's record.
    const sales = step({
      type: 'call.started',
      callId: 's1',
      at: t,
      direction: 'inbound',
      from: '+79160000001',
      to: '+74950000001',
    });
    expect(sales).toContainEqual(
      expect.objectContaining({ type: 'bitrix.register', show: false, crmCreate: true }),
    );

    // S2b on Support: one extension at a time, 5 s each.
    const route = step({ type: 'route.requested', callId: 'p1', from: '+79160000002', to: '+74950000002' });
    expect(route).toContainEqual({
      type: 'pbx.plan',
      callId: 'p1',
      plan: [
        { extensions: ['101'], timeoutSec: 5 },
        { extensions: ['102'], timeoutSec: 5 },
        { extensions: ['103'], timeoutSec: 5 },
      ],
    });

    // S1: a call to an extension rings it.
    const direct = step({ type: 'route.requested', callId: 'd1', from: '+79160000003', to: '102' });
    expect(direct).toContainEqual({
      type: 'pbx.plan',
      callId: 'd1',
      plan: [{ extensions: ['102'], timeoutSec: 30 }],
    });
    expect(config.pbx).toEqual([{ id: 'demo', token: 'demo-token', kind: 'simulator' }]);
  });

  it('lets the file map extensions over the portal and keeps the first of two claims', () => {
    const config = valid(
      parseConfig({
        ...minimal,
        engine: {
          directory: [
            { extension: '104', userId: null },
            { extension: '101', userId: 6 },
          ],
        },
      }),
    );
    const conflicts: string[] = [];
    const engine = toEngineConfig(config, [...portalDirectory, { extension: '103', userId: 5 }], {
      onConflict: (m) => conflicts.push(m),
    });
    expect(engine.directory).toEqual([
      { extension: '104', userId: null },
      { extension: '101', userId: 6 },
      { extension: '100', userId: 1 },
      { extension: '102', userId: 3 },
      { extension: '103', userId: 4 },
    ]);
    expect(conflicts).toHaveLength(2);
    expect(() => createEngine(engine)).not.toThrow();
  });
});

describe('the environment', () => {
  it('overrides the file, and switches a section to the kind it implies', () => {
    const config = valid(
      parseConfig(minimal, {
        B24_BRIDGE_PORT: '8080',
        B24_BRIDGE_HOST: '0.0.0.0',
        B24_BRIDGE_POSTGRES_URL: 'postgres://bridge:pw@db:5432/bridge',
        B24_BRIDGE_BITRIX_CLIENT_ID: 'app.123',
        B24_BRIDGE_BITRIX_CLIENT_SECRET: 'client-secret-xyz',
        B24_BRIDGE_PBX_OFFICE_TOKEN: 'env-token-office',
        B24_BRIDGE_PBX_CLOUD_PBX_TOKEN: 'env-token-cloud',
        B24_BRIDGE_LOG_LEVEL: 'debug',
      }),
    );
    expect(config.server.port).toBe(8080);
    expect(config.server.host).toBe('0.0.0.0');
    expect(config.store).toEqual({ kind: 'postgres', url: 'postgres://bridge:pw@db:5432/bridge' });
    expect(config.bitrix).toMatchObject({
      mode: 'app',
      clientId: 'app.123',
      clientSecret: 'client-secret-xyz',
    });
    expect(config.pbx.map((p) => [p.id, p.token])).toEqual([
      ['office', 'env-token-office'],
      ['cloud-pbx', 'env-token-cloud'],
    ]);
    expect(config.logging.level).toBe('debug');
  });

  it('warns about unknown B24_BRIDGE_ variables, ignores other ones', () => {
    const result = parseConfig(minimal, { B24_BRIDGE_PROT: '1', HOME: '/root' });
    expect(result.ok && result.warnings).toContain('B24_BRIDGE_PROT is not a setting of the bridge; ignored');
  });

  it('names the variable a bad value came from', () => {
    const error = invalid(parseConfig(minimal, { B24_BRIDGE_PORT: 'eighty' }));
    expect(error.message).toContain(
      'server.port (from B24_BRIDGE_PORT): expected a port number from 1 to 65535',
    );
  });
});

describe('configuration errors', () => {
  const secrets = [
    'hook-secret-123',
    'office-token-42',
    'sh0rt',
    'not a url with secret-zz9',
    'dup-token-77',
  ];

  it('name every bad key, one a line, and never a value', () => {
    const error = invalid(
      parseConfig({
        server: { port: 70000, extra: true },
        bitrix: { mode: 'webhook', url: 'not a url with secret-zz9' },
        pbx: [
          { id: 'a', token: 'sh0rt' },
          { id: 'b', token: 'dup-token-77' },
          { id: 'c', token: 'dup-token-77', kind: 'fax' },
        ],
        engine: {
          lines: [
            { id: 'ok', routing: { kind: 'direct' } },
            { id: 'bad', routing: { kind: 'queue', queue: { members: [101], strategy: 'random' } } },
            { id: 'ok', routing: { kind: 'teleport' } },
          ],
        },
      }),
    );
    expect(error.code).toBe('CONFIG_INVALID');
    const lines = error.message.split('\n');
    expect(lines[0]).toBe('Invalid configuration:');
    for (const expected of [
      'server.port: expected a port number from 1 to 65535',
      'server.extra: unknown key',
      'bitrix.url: expected the incoming webhook URL, an http or https URL',
      'pbx[0].token: expected a secret string of at least 8 characters',
      'pbx[2].kind: expected "webhook", "simulator" or "asterisk"',
      'engine.lines[1].routing.queue.members[0]: expected an extension like "101"',
      'engine.lines[1].routing.queue.strategy: expected "simultaneous" or "sequential"',
      'engine.lines[2].routing.kind: expected kind "direct", "queue" or "responsible"',
    ])
      expect(
        lines.some((line) => line.startsWith('  - ') && line.includes(expected)),
        expected,
      ).toBe(true);
    for (const secret of secrets) expect(error.message).not.toContain(secret);
  });

  it('name a token two PBXes share, without the token', () => {
    const error = invalid(
      parseConfig({
        ...minimal,
        pbx: [
          { id: 'a', token: 'dup-token-77' },
          { id: 'b', token: 'dup-token-77' },
          { id: 'a', token: 'other-token-1' },
        ],
        engine: {
          lines: [
            { id: 'x', routing: { kind: 'direct' } },
            { id: 'x', routing: { kind: 'queue', queue: { members: ['101', '101'] } } },
          ],
        },
      }),
    );
    // Checks across entries run once each entry is valid on its own, as zod does.
    expect(error.problems).toEqual([
      { key: 'pbx[1].token', message: 'another PBX has the same token' },
      { key: 'pbx[2].id', message: 'another PBX has this id' },
      { key: 'engine.lines[1].routing.queue.members[1]', message: 'this extension is already a member' },
      { key: 'engine.lines[1].id', message: 'another line has this id' },
    ]);
    expect(error.message).not.toContain('dup-token-77');
  });

  it('say what is missing', () => {
    const error = invalid(parseConfig({}));
    expect(error.problems.map((p) => p.key)).toEqual(['bitrix', 'pbx']);
    expect(error.problems[0]?.message).toMatch(/^required/);
    const app = invalid(parseConfig({ ...minimal, bitrix: { mode: 'app', clientId: 'x' } }));
    expect(app.message).toContain('bitrix.clientSecret: required');
  });

  it('refuse a file that cannot be read or parsed, without quoting it', () => {
    const unreadable = () =>
      loadConfig({
        file: '/nowhere.json',
        env: {},
        readFile: () => {
          throw new Error('ENOENT');
        },
      });
    expect(unreadable).toThrow(ConfigError);
    expect(unreadable).toThrow(expect.objectContaining({ code: 'CONFIG_FILE_UNREADABLE' }) as Error);
    const malformed = () =>
      loadConfig({ file: 'c.json', env: {}, readFile: () => '{"token": "file-secret-1" oops' });
    expect(malformed).toThrow(expect.objectContaining({ code: 'CONFIG_FILE_MALFORMED' }) as Error);
    try {
      malformed();
    } catch (error) {
      expect(String(error)).not.toContain('file-secret-1');
    }
  });

  it('are thrown by loadConfig with the source named', () => {
    expect(() => loadConfig({ env: { B24_BRIDGE_CONFIG: 'x.json' }, readFile: () => '{}' })).toThrow(
      /Invalid configuration \(x\.json, environment\):\n {2}- bitrix: required/,
    );
  });
});

describe('secrets', () => {
  it('are listed from the schema marks', () => {
    expect(secretPaths).toEqual([
      'admin.password',
      'admin.token',
      'bitrix.clientSecret',
      'bitrix.url',
      'pbx[].ami.secret',
      'pbx[].commandUrl',
      'pbx[].token',
      'store.url',
    ]);
    expect(secretEnvPattern.test('B24_BRIDGE_PBX_OFFICE_TOKEN')).toBe(true);
    expect(secretEnvPattern.test('B24_BRIDGE_PORT')).toBe(false);
  });

  it('are redacted for printing, the rest kept', () => {
    const config = valid(
      parseConfig(
        { ...minimal, admin: { password: 'admin-pass-1' } },
        { B24_BRIDGE_POSTGRES_URL: 'postgres://u:pw-77@db/b' },
      ),
    );
    const printed = JSON.stringify(redactConfig(config));
    for (const secret of ['hook-secret-123', 'office-token-42', 'admin-pass-1', 'pw-77'])
      expect(printed).not.toContain(secret);
    expect(printed).toContain('"id":"office"');
    expect(printed).toContain('[redacted]');
    expect(config.pbx[0]?.token).toBe('office-token-42');
  });
});
