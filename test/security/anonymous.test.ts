/**
 * What an anonymous install request costs. Each plausible one sends the client secret to the OAuth
 * server, so: cheap checks (shape of the tokens, a refresh token already tried) answer without it;
 * only a few checks run at once and more are told to come back, instead of queueing every request
 * behind every other; and each client address, and everyone together, gets so many a minute.
 * The OAuth server sits behind a proxy here that counts (and, on demand, holds) what reaches it.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestFrom, startOffice, until, type Office } from './office.ts';

interface OAuthProxy {
  url: string;
  seen: number;
  inFlight: number;
  /** While set, requests wait here until `release()`. */
  hold: boolean;
  release(): void;
  close(): void;
}

async function oauthProxy(target: () => string): Promise<OAuthProxy> {
  const waiting: (() => void)[] = [];
  const proxy: OAuthProxy = {
    url: '',
    seen: 0,
    inFlight: 0,
    hold: false,
    release: () => {
      proxy.hold = false;
      for (const go of waiting.splice(0)) go();
    },
    close: () => server.close(),
  };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      proxy.seen++;
      proxy.inFlight++;
      const forward = async (): Promise<void> => {
        const answer = await fetch(target(), {
          method: 'POST',
          headers: { 'content-type': req.headers['content-type'] ?? '' },
          body: Buffer.concat(chunks),
        });
        res.writeHead(answer.status, { 'content-type': 'application/json' });
        res.end(await answer.text());
        proxy.inFlight--;
      };
      if (proxy.hold) waiting.push(() => void forward());
      else void forward();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.url = `http://127.0.0.1:${String((server.address() as AddressInfo).port)}/oauth/token/`;
  return proxy;
}

describe('anonymous install requests', () => {
  let office: Office;
  let proxy: OAuthProxy;
  let emulatorOAuth = '';

  const install = (from: string, form: Record<string, string>, domain = '127.0.0.1:1') =>
    requestFrom(from, `${office.bridge.url}/bitrix/install?DOMAIN=${domain}&PROTOCOL=0`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form).toString(),
    });
  const forged = (n: number) => ({
    AUTH_ID: `forgedaccess${String(n).padStart(8, '0')}`,
    REFRESH_ID: `forgedrefresh${String(n).padStart(8, '0')}`,
    member_id: 'emulator-member-1',
  });

  beforeAll(async () => {
    proxy = await oauthProxy(() => emulatorOAuth);
    office = await startOffice({
      install: false,
      configure: (doc) => ({
        ...doc,
        bitrix: doc.bitrix.mode === 'app' ? { ...doc.bitrix, oauthUrl: proxy.url } : doc.bitrix,
      }),
    });
    emulatorOAuth = `${office.portals[0]!.emulator.url}/oauth/token/`;
  });
  afterAll(async () => {
    proxy.release();
    proxy.close();
    await office.close();
  });

  it('tokens that cannot be Bitrix24 tokens are refused without asking the OAuth server', async () => {
    const res = await install('127.0.0.2', {
      AUTH_ID: 'not a token <script>',
      REFRESH_ID: 'x y z',
      member_id: 'emulator-member-1',
    });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text)).toMatchObject({ error: { code: 'INVALID_INSTALL' } });
    expect(proxy.seen).toBe(0);
  });

  it('a refresh token already tried is not sent again', async () => {
    expect((await install('127.0.0.2', forged(1))).status).toBe(403);
    expect(proxy.seen).toBe(1);
    const again = await install('127.0.0.2', forged(1));
    expect(again.status).toBe(403);
    expect(proxy.seen).toBe(1);
  });

  it('checks run side by side, a few at a time: more are told to come back, none waits behind the others', async () => {
    proxy.hold = true;
    const seenBefore = proxy.seen;
    const answers = Array.from({ length: 10 }, (_, i) =>
      install(`127.0.0.${String(50 + i)}`, forged(100 + i)),
    );
    const settled: { status: number; text: string }[] = [];
    for (const a of answers) void a.then((r) => settled.push(r));
    // Eight checks reach the OAuth server together; the other two are answered at once.
    await until('eight checks at the OAuth server', () => (proxy.inFlight === 8 ? true : undefined));
    await until('the two refused', () => (settled.length === 2 ? true : undefined));
    expect(settled.map((r) => r.status)).toEqual([429, 429]);
    expect(settled.map((r) => (JSON.parse(r.text) as { error: { code: string } }).error.code)).toEqual([
      'INSTALL_BUSY',
      'INSTALL_BUSY',
    ]);
    proxy.release();
    const all = await Promise.all(answers);
    expect(all.filter((r) => r.status === 403)).toHaveLength(8);
    expect(proxy.seen - seenBefore).toBe(8);
  });

  it('one address gets 10 install requests a minute, then 429 with Retry-After; another address is still served', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await install('127.0.0.3', forged(200 + i))).status);
    expect(statuses.slice(0, 10).every((s) => s === 403)).toBe(true);
    expect(statuses.slice(10)).toEqual([429, 429]);
    const limited = await install('127.0.0.3', forged(300));
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect((await install('127.0.0.4', forged(301))).status).toBe(403);
  });
});
