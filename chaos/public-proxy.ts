/**
 * The bridge's public URL: a reverse proxy in front of it, as nginx would be in production. The
 * portal reaches the bridge only through it (install callback, events, recording downloads), so it
 * sees every token the portal hands over in a form body — the install's pair, the access token
 * of each event, the application token — and the run can search the bridge's log for each. While
 * the bridge is down it answers 502, as a proxy does.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface PublicProxy {
  readonly url: string;
  /** Every `auth[...]` token seen in a request body. */
  readonly tokens: Set<string>;
  close(): Promise<void>;
}

const tokenKeys = [
  'auth[access_token]',
  'auth[refresh_token]',
  'auth[application_token]',
  'AUTH_ID',
  'REFRESH_ID',
];

export async function startPublicProxy(bridgeUrl: string): Promise<PublicProxy> {
  const tokens = new Set<string>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const type = req.headers['content-type'] ?? '';
      if (type.includes('application/x-www-form-urlencoded')) {
        const form = new URLSearchParams(body.toString('utf8'));
        for (const key of tokenKeys) {
          const value = form.get(key);
          if (value !== null && value !== '') tokens.add(value);
        }
      }
      const method = req.method ?? 'GET';
      fetch(bridgeUrl + (req.url ?? '/'), {
        method,
        headers: type === '' ? {} : { 'content-type': type },
        ...(method === 'GET' || method === 'HEAD' ? {} : { body }),
        redirect: 'manual',
        signal: AbortSignal.timeout(30_000),
      }).then(
        async (answer) => {
          const content = Buffer.from(await answer.arrayBuffer());
          const headers: Record<string, string> = {};
          for (const name of ['content-type', 'location']) {
            const value = answer.headers.get(name);
            if (value !== null) headers[name] = value;
          }
          res.writeHead(answer.status, headers);
          res.end(content);
        },
        () => {
          res.writeHead(502, { 'content-type': 'text/plain' });
          res.end('bad gateway: the bridge does not answer\n');
        },
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    tokens,
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
