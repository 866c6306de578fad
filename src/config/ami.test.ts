import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig, redactConfig, secretPaths, type ConfigResult } from './index.ts';

const base = { bitrix: { mode: 'webhook', url: 'https://portal.example/rest/1/hook-secret-123/' } };
const ami = { host: 'pbx.office.lan', username: 'bridge', secret: 'ami-secret-1' };
const parse = (pbx: Record<string, unknown>): ConfigResult =>
  parseConfig({ ...base, pbx: [{ id: 'office', token: 'office-token-42', ...pbx }] });

function problems(result: ConfigResult): string[] {
  if (result.ok) throw new Error('expected a refusal');
  expect(result.error).toBeInstanceOf(ConfigError);
  return result.error.problems.map((p) => `${p.key}: ${p.message}`);
}

describe('AMI settings of an asterisk PBX', () => {
  it('take defaults for all but host, username and secret', () => {
    const result = parse({ kind: 'asterisk', ami });
    if (!result.ok) throw result.error;
    expect(result.config.pbx[0]?.ami).toEqual({
      ...ami,
      port: 5038,
      devicePattern: ['PJSIP/{ext}', 'SIP/{ext}'],
      context: 'from-internal',
      mode: 'mirror',
    });
  });

  it('keep the secret out of printed configurations', () => {
    expect(secretPaths).toContain('pbx[].ami.secret');
    const result = parse({ kind: 'asterisk', ami });
    if (!result.ok) throw result.error;
    expect(JSON.stringify(redactConfig(result.config))).not.toContain('ami-secret-1');
  });

  it('are required for kind "asterisk" and refused for the others', () => {
    expect(problems(parse({ kind: 'asterisk' }))).toEqual([
      'pbx[0].ami: an asterisk PBX needs its AMI settings: {host, username, secret}',
    ]);
    expect(problems(parse({ kind: 'webhook', ami }))).toEqual([
      'pbx[0].ami: AMI settings are only for kind "asterisk"',
    ]);
  });

  it('name each bad value by its key, never quoting it', () => {
    const messages = problems(
      parse({
        kind: 'asterisk',
        ami: {
          ...ami,
          secret: '',
          port: 70000,
          devicePattern: 'PJSIP/101',
          mode: 'steer',
          recordings: { dir: '/var/spool/asterisk/monitor', urlBase: 'https://pbx/rec' },
        },
      }),
    );
    expect(messages).toEqual(
      expect.arrayContaining([
        'pbx[0].ami.port: expected a port number from 1 to 65535',
        'pbx[0].ami.secret: expected the AMI secret (manager.conf "secret")',
        'pbx[0].ami.mode: expected "mirror" or "route"',
        'pbx[0].ami.recordings: expected either "dir" or "urlBase", one of them',
      ]),
    );
    expect(messages.some((m) => m.startsWith('pbx[0].ami.devicePattern'))).toBe(true);
    expect(messages.join('\n')).not.toContain('ami-secret-1');
  });
});

describe('secrets from the environment', () => {
  it('B24_BRIDGE_PBX_<ID>_AMI_SECRET sets the AMI secret of that PBX; the store key is no setting', () => {
    const result = parseConfig(
      {
        ...base,
        pbx: [
          {
            id: 'main-office',
            token: 'office-token-42',
            kind: 'asterisk',
            ami: { ...ami, secret: undefined },
          },
        ],
      },
      { B24_BRIDGE_PBX_MAIN_OFFICE_AMI_SECRET: 'from-env-secret', B24_BRIDGE_STORE_KEY: 'k'.repeat(44) },
    );
    if (!result.ok) throw result.error;
    expect(result.config.pbx[0]?.ami?.secret).toBe('from-env-secret');
    expect(result.warnings.join('\n')).not.toContain('B24_BRIDGE_STORE_KEY');
  });

  it('an AMI secret for a PBX the configuration does not have is ignored with a warning', () => {
    const result = parseConfig(
      { ...base, pbx: [{ id: 'office', token: 'office-token-42' }] },
      { B24_BRIDGE_PBX_OTHER_AMI_SECRET: 'x' },
    );
    if (!result.ok) throw result.error;
    expect(result.warnings.join('\n')).toContain('B24_BRIDGE_PBX_OTHER_AMI_SECRET names no PBX');
  });
});
