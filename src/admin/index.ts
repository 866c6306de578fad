/**
 * The admin UI (`/`, server-rendered HTML with htmx and SSE) and its JSON API (`/api/`), both
 * behind a login, plus `/metrics`. Everything is read through an `AdminView`.
 */
import { formOf, nextOf } from './requests.ts';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Registry } from '../metrics/index.ts';
import type { JournalReader } from '../journal/index.ts';
import { registerApi } from './api.ts';
import { AdminAuth, clearedCookie, sessionCookie, type AdminCredentials, type SessionStore } from './auth.ts';
import { defaultLoginLimits, LoginThrottle, sameOriginRequest, type LoginLimits } from './guard.ts';
import { loginPage, HTMX_PATH, SCRIPT_PATH } from './pages.ts';
import { registerPages, registerStatic } from './routes.ts';
import { registerJournal } from './journal-routes.ts';
import { registerDashboard } from './dashboard.ts';
import { StreamHub } from './stream.ts';
import { BoardStreams, defaultBoardSettings, type BoardSettings } from './board-stream.ts';
import type { AdminView } from './view.ts';

export type * from './view.ts';
export { type SessionStore } from './auth.ts';
export type { BoardSettings } from './board-stream.ts';
export interface AdminOptions {
  view: AdminView;
  credentials: AdminCredentials;
  /** Where logged-in sessions are kept: the store, so every instance knows them. Default: memory. */
  sessions?: SessionStore | undefined;
  /** Served at `/metrics` (no login: it holds figures, never secrets; restrict it at the proxy). */
  metrics?: Registry | undefined;
  /** Session cookies get `Secure` when the bridge is reached over https. */
  secureCookies?: boolean | undefined;
  /** Throttling of wrong passwords and tokens. */
  login?: LoginLimits | undefined;
  /** The bridge's public URL: a page of its origin may post to the admin UI as well as the Host's. */
  publicUrl?: string | undefined;
  /** The call journal (`/journal`, `/api/journal`) and the dashboard's figures over time. */
  journal?: JournalReader | undefined;
  /** How many calls the live board shows and how often it is updated. */
  board?: BoardSettings | undefined;
}

const open = new Set(['/login', HTMX_PATH, SCRIPT_PATH]);

function safeNext(value: unknown): string {
  // Only a path of this site: `//evil.example` would be an open redirect.
  return typeof value === 'string' && /^\/(?!\/)[\w\-./?=&%]*$/.test(value) ? value : '/';
}

export function registerAdmin(app: FastifyInstance, options: AdminOptions): void {
  const auth = new AdminAuth(options.credentials, options.sessions);
  const throttle = LoginThrottle.inMemory(options.login ?? defaultLoginLimits);
  const hub = new StreamHub();
  const boards = new BoardStreams(options.view, hub, options.board ?? defaultBoardSettings);
  const metrics = options.metrics;
  if (metrics)
    app.get('/metrics', { logLevel: 'warn' }, async (_request, reply) =>
      reply.type(metrics.contentType).send(await metrics.expose()),
    );
  app.addHook('preClose', (done) => {
    hub.closeAll();
    boards.close();
    done();
  });
  const locked = (reply: FastifyReply, retryAfterMs: number, api: boolean): void => {
    const minutes = Math.max(1, Math.ceil(retryAfterMs / 60_000));
    const message = `too many wrong passwords or tokens: try again in ${String(minutes)} minute${minutes === 1 ? '' : 's'}`;
    void reply.status(429).header('retry-after', String(Math.ceil(retryAfterMs / 1000)));
    if (api) void reply.send({ error: { code: 'LOGIN_LOCKED', message } });
    else
      void reply
        .type('text/html; charset=utf-8')
        .send(loginPage({ enabled: auth.enabled, error: `Locked: ${message}.` }).text);
  };
  const crossSite = (reply: FastifyReply): void => {
    void reply.status(403).send({
      error: {
        code: 'CROSS_SITE_REQUEST',
        message: 'refused: the request does not come from the admin UI itself',
      },
    });
  };
  // Own scope: the login check and the form parser apply to the admin routes only. Its requests
  // log at warn: a page polling every second must not bury the calls' log lines.
  app.register(
    (scope, _options, done) => {
      if (!scope.hasContentTypeParser('application/x-www-form-urlencoded'))
        scope.addContentTypeParser(
          'application/x-www-form-urlencoded',
          { parseAs: 'string', bodyLimit: 16 * 1024 },
          (_request, body, next) => next(null, Object.fromEntries(new URLSearchParams(body as string))),
        );
      scope.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, next) => {
        void guard(request, reply, next).catch((e: unknown) => {
          next(e instanceof Error ? e : new Error(String(e)));
        });
      });
      const guard = async (
        request: FastifyRequest,
        reply: FastifyReply,
        next: (error?: Error) => void,
      ): Promise<void> => {
        const path = request.url.split('?')[0] ?? '';
        const api = path.startsWith('/api/');
        if (open.has(path)) {
          if (!sameOriginRequest(request, options.publicUrl)) return crossSite(reply);
          return next();
        }
        const authorization = request.headers.authorization;
        if (/^Bearer\s/i.test(authorization ?? '')) {
          // A token is a password too: wrong ones are counted, and a locked-out address is refused.
          const now = Date.now();
          const verdict = throttle.check(request.ip, now);
          if (!verdict.allowed) return locked(reply, verdict.retryAfterMs, true);
          if (auth.bearer(authorization)) {
            throttle.succeeded(request.ip);
            return next();
          }
          throttle.failed(request.ip, now);
          request.log.warn({ from: request.ip, via: 'token' }, 'admin authentication failed');
        } else if (await auth.hasSession(request.headers.cookie)) {
          if (!sameOriginRequest(request, options.publicUrl)) return crossSite(reply);
          return next();
        }
        if (api) {
          void reply
            .status(401)
            .header('www-authenticate', 'Bearer realm="b24-bridge admin"')
            .send({
              error: { code: 'UNAUTHORIZED', message: 'log in or send the admin token as a Bearer token' },
            });
          return;
        }
        void reply.redirect(`/login?next=${encodeURIComponent(request.url)}`, 303);
      };

      scope.get('/login', (request, reply) => {
        const next = nextOf(request.query);
        return reply
          .type('text/html; charset=utf-8')
          .send(loginPage({ enabled: auth.enabled, next: safeNext(next) }).text);
      });
      scope.post('/login', async (request, reply) => {
        const form = formOf(request.body);
        const given = typeof form.password === 'string' ? form.password : '';
        const now = Date.now();
        const verdict = throttle.check(request.ip, now);
        if (!verdict.allowed) {
          locked(reply, verdict.retryAfterMs, false);
          return reply;
        }
        const right = auth.enabled && auth.checkSecret(given);
        if (right) throttle.succeeded(request.ip);
        else {
          throttle.failed(request.ip, now);
          request.log.warn({ from: request.ip, via: 'password' }, 'admin authentication failed');
        }
        if (!right)
          return reply
            .status(401)
            .type('text/html; charset=utf-8')
            .send(
              loginPage({ enabled: auth.enabled, error: 'Wrong password.', next: safeNext(form.next) }).text,
            );
        return reply
          .header('set-cookie', sessionCookie(await auth.startSession(), options.secureCookies ?? false))
          .redirect(safeNext(form.next), 303);
      });
      scope.post('/logout', async (request, reply) => {
        await auth.endSession(request.headers.cookie);
        return reply.header('set-cookie', clearedCookie).redirect('/login', 303);
      });

      registerStatic(scope);
      registerPages(scope, options.view, boards);
      registerApi(scope, options.view, hub);
      registerJournal(scope, options.journal);
      registerDashboard(scope, options.view, options.journal);
      done();
    },
    { logLevel: 'warn' },
  );
}
