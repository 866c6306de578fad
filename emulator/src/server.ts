import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sendJson } from './http/envelope.ts';
import { handleInspect } from './inspect/api.ts';
import { bx24Library } from './inspect/app-frame.ts';
import { OAuthServer } from './oauth.ts';
import { Portal } from './portal/portal.ts';
import { defaultSeed, type Seed } from './portal/seed.ts';
import { RestApi } from './rest.ts';
import type { Settings } from './settings.ts';

export interface EmulatorOptions {
  /** 0 picks a free port (tests); the CLI defaults to 39100. */
  port?: number;
  host?: string;
  seed?: Seed;
  settings?: Partial<Settings>;
  /**
   * The OAuth server this portal's tokens are refreshed at. Share one between emulators to have
   * several portals behind one OAuth server, as oauth.bitrix.info serves every portal; each
   * emulator's /oauth/token/ answers for all of them. Default: one of its own.
   */
  oauth?: OAuthServer;
}

export interface Emulator {
  /** Base URL, e.g. http://127.0.0.1:39100 */
  url: string;
  port: number;
  portal: Portal;
  rest: RestApi;
  /** The OAuth server the portal is registered with (pass it to another emulator to share it). */
  oauth: OAuthServer;
  /** The seed portal's incoming webhook base (`/rest/1/emulator/`), when the seed has one. */
  webhookUrl: string | null;
  reset(): void;
  close(): Promise<void>;
}

/** Starts the emulated portal: REST at /rest/, OAuth at /oauth/token/, inspection at /_emulator/. */
export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const portal = new Portal(options.seed ?? defaultSeed(), options.settings ?? {});
  const rest = new RestApi(portal);
  const oauth = options.oauth ?? new OAuthServer();
  oauth.add(portal);
  const reset = (): void => {
    portal.reset();
    rest.reset();
  };
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://emulator.invalid');
    const path = url.pathname;
    let work: Promise<void>;
    if (path.startsWith('/rest/')) work = rest.handle(req, res, url);
    else if (/^\/oauth\/token\/?$/.test(path)) work = oauth.handle(portal, req, res, url);
    else if (path === '/_emulator' || path.startsWith('/_emulator/'))
      work = handleInspect(portal, rest, req, res, url, reset);
    else if (path === '/api/v1' || path === '/api/v1/') {
      // What https://api.bitrix24.com/api/v1/ serves an app's page: the BX24 library (a stand-in).
      res.writeHead(200, { 'content-type': 'application/javascript; charset=utf-8' });
      res.end(bx24Library);
      return;
    } else if (path === '/') {
      res.writeHead(302, { location: '/_emulator/' });
      res.end();
      return;
    } else {
      sendJson(res, 404, { error: 'NOT_FOUND', error_description: `Nothing at ${path}` });
      return;
    }
    work.catch((e: unknown) => {
      console.error('b24-emulator: internal error:', e);
      sendJson(res, 500, { error: 'INTERNAL_SERVER_ERROR', error_description: 'Internal server error' });
    });
  });
  // Malformed HTTP never reaches a handler; answer it plainly instead of crashing.
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });
  server.keepAliveTimeout = 5_000;
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  const url = `http://${urlHost}:${port}`;
  portal.baseUrl = url;
  const hook = portal.webhooks[0];
  return {
    url,
    port,
    portal,
    rest,
    oauth,
    webhookUrl: hook ? `${url}/rest/${hook.userId}/${hook.secret}/` : null,
    reset,
    close: () =>
      new Promise<void>((resolve) => {
        oauth.remove(portal);
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
