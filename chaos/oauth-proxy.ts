/**
 * A see-through proxy in front of the emulator's OAuth server (`/oauth/token/`): the bridge's
 * `oauthUrl` points here, every request goes on unchanged, and every token the portal issues on a
 * refresh is noted, so the run knows each one and can search the bridge's log for it. The emulator
 * does not list the tokens it issued; this is how the run learns them without trusting the bridge.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface OAuthProxy {
  /** The URL to give the bridge as `oauthUrl`. */
  readonly url: string;
  /** Every access and refresh token seen in an answer. */
  readonly tokens: Set<string>;
  /** How many refreshes the portal granted. */
  readonly refreshes: () => number;
  close(): Promise<void>;
}

export async function startOAuthProxy(emulatorUrl: string): Promise<OAuthProxy> {
  const tokens = new Set<string>();
  let refreshes = 0;
  const target = `${emulatorUrl}/oauth/token/`;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const query = req.url?.includes('?') === true ? req.url.slice(req.url.indexOf('?')) : '';
      const headers: Record<string, string> = {};
      const type = req.headers['content-type'];
      if (type !== undefined) headers['content-type'] = type;
      const method = req.method ?? 'GET';
      fetch(target + query, {
        method,
        headers,
        ...(method === 'GET' || method === 'HEAD' ? {} : { body: Buffer.concat(chunks) }),
        signal: AbortSignal.timeout(30_000),
      }).then(
        async (answer) => {
          const text = await answer.text();
          try {
            const body = JSON.parse(text) as { access_token?: unknown; refresh_token?: unknown };
            if (typeof body.access_token === 'string') {
              tokens.add(body.access_token);
              refreshes++;
            }
            if (typeof body.refresh_token === 'string') tokens.add(body.refresh_token);
          } catch {
            // An outage page or garbage: passed on as it came.
          }
          res.writeHead(answer.status, {
            'content-type': answer.headers.get('content-type') ?? 'application/json',
          });
          res.end(text);
        },
        // The portal dropped the connection (an outage): so does the proxy.
        () => req.socket.destroy(),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/oauth/token/`,
    tokens,
    refreshes: () => refreshes,
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
