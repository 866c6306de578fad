import { describe, expect, it } from 'vitest';
import { createLogger, prettyLine, SecretSet } from './index.ts';

function capture(secrets = new SecretSet(), format: 'json' | 'pretty' = 'json', isTTY = false) {
  const lines: string[] = [];
  const log = createLogger({ secrets, format, destination: { write: (t) => lines.push(t), isTTY } });
  return { log, lines, text: () => lines.join('') };
}

describe('the logger', () => {
  it('scrubs known secrets wherever they appear, even inside a message or an error', () => {
    const secrets = new SecretSet();
    secrets.add('s3cret-client-value');
    secrets.add('tok/with+odd=chars');
    const { log, text } = capture(secrets);
    log.info({ url: '/x?q=s3cret-client-value' }, 'the secret s3cret-client-value leaked');
    log.error({ err: new Error('refused tok/with+odd=chars') }, 'failed with tok%2Fwith%2Bodd%3Dchars');
    expect(text()).not.toContain('s3cret-client-value');
    expect(text()).not.toContain('tok/with+odd=chars');
    expect(text()).not.toContain('tok%2Fwith%2Bodd%3Dchars');
    expect(text()).toContain('[redacted]');
  });

  it('scrubs secrets by key and by shape without knowing them', () => {
    const { log, text } = capture();
    log.info({
      access_token: 'aaaa1111',
      nested: { refreshToken: 'bbbb2222', deeper: { client_secret: 'cccc3333' } },
    });
    log.info(
      { url: '/bitrix/events?auth=dddd4444&x=1' },
      'POST https://p.bitrix24.ru/rest/1/eeee5555/user.get',
    );
    log.info({ headers: 'Authorization: Bearer ffff6666' }, 'form auth[application_token]=gggg7777&a=1');
    for (const s of ['aaaa1111', 'bbbb2222', 'cccc3333', 'dddd4444', 'eeee5555', 'ffff6666', 'gggg7777'])
      expect(text(), s).not.toContain(s);
    expect(text()).toContain('/rest/1/[redacted]/user.get');
  });

  it('ignores values too short to be secrets', () => {
    const secrets = new SecretSet();
    secrets.add('abc');
    const { log, text } = capture(secrets);
    log.info('abc');
    expect(text()).toContain('"msg":"abc"');
  });

  it('writes JSON lines, or plain lines when pretty is asked on a terminal', () => {
    const json = capture(new SecretSet(), 'pretty', false);
    json.log.warn({ portal: 'p1' }, 'link down');
    expect(JSON.parse(json.lines[0] ?? '')).toMatchObject({ level: 40, msg: 'link down', portal: 'p1' });
    const tty = capture(new SecretSet(), 'pretty', true);
    tty.log.warn({ portal: 'p1' }, 'link down');
    expect(tty.lines[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} WARN {2}link down portal=p1\n$/);
    expect(prettyLine('not json')).toBe('not json');
  });
});
