/**
 * `/bitrix/app`: the application's page inside Bitrix24's frame. The portal opens it with a POST
 * carrying the viewing user's AUTH_ID; the bridge checks that token with the portal before showing
 * anything and hands the page a short-lived session for its buttons. Plain forms, no script: the
 * frame's third-party cookies are unreliable, and nothing here needs to be live. The session only
 * ever travels in form bodies (every button is a POST answered with the page itself), never in a
 * URL, where browsers, proxies and logs keep it.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { checked, ServerError } from '../http/index.ts';
import { appActions, type AppPageHandler, type AppPageView } from '../app/index.ts';
import { acceptForms } from './bitrix-events.ts';
import { framedBy } from './headers.ts';

const openSchema = z.object({
  AUTH_ID: z.string().trim().min(1).max(500),
  member_id: z.string().trim().min(1).max(100),
});

const sessionRequired = {
  code: 'APP_SESSION_REQUIRED',
  status: 401,
  message: 'open this page from Bitrix24',
};
const oldPageQuery = z.object({ session: z.unknown(), message: z.string().optional().catch(undefined) });
const actionParams = z.object({ name: z.enum(appActions) });

const escape = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const when = (ms: number | null): string => (ms === null ? '—' : new Date(ms).toISOString());

function page(session: string, v: AppPageView, message: string | undefined): string {
  const s = escape(session);
  const button = (name: string, label: string): string =>
    `<form method="post" action="/bitrix/app/actions/${name}"><input type="hidden" name="session" value="${s}">` +
    `<button type="submit" data-action="${name}">${escape(label)}</button></form>`;
  const users = v.directory.users
    .map(
      (u) =>
        `<tr><td>${u.userId}</td><td>${escape(u.name)}</td><td>${u.extension === null ? '<em class="warn">no extension</em>' : escape(u.extension)}</td></tr>`,
    )
    .join('');
  const test =
    v.eventTest === null
      ? 'not run'
      : v.eventTest.receivedAt === null
        ? `sent ${when(v.eventTest.sentAt)}, not received: the portal cannot reach ${escape(v.publicUrl ?? 'the bridge')}`
        : `received ${String(v.eventTest.receivedAt - v.eventTest.sentAt)} ms after it was sent: the portal reaches the bridge`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>b24-bridge</title>
<style>body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}.warn{color:#b00}form{display:inline-block;margin:0 .5em .5em 0}
.msg{background:#eef6ee;border:1px solid #9c9;padding:.5em}</style></head>
<body><h1>b24-bridge</h1>
${message === undefined ? '' : `<p class="msg" id="message">${escape(message)}</p>`}
<h2>This portal</h2>
<table id="state">
<tr><th>portal</th><td>${escape(v.portal.domain ?? v.portal.memberId)}</td></tr>
<tr><th>link to Bitrix24</th><td id="link">${escape(v.link)}</td></tr>
<tr><th>backlog</th><td id="backlog">${v.backlog.pending} pending, ${v.backlog.inFlight} in flight, ${v.backlog.failed} failed; oldest ${when(v.backlog.oldestOpenAt)}</td></tr>
<tr><th>access token expires</th><td>${when(v.tokens.expiresAt)}</td></tr>
<tr><th>needs re-install</th><td id="reinstall">${v.tokens.needsReinstall === null ? 'no' : `<strong class="warn">yes: ${escape(v.tokens.needsReinstall)}</strong>`}</td></tr>
<tr><th>events verified</th><td>${v.tokens.eventsVerified ? 'yes' : '<strong class="warn">no application token stored: re-install the app</strong>'}</td></tr>
<tr><th>PBX</th><td>${escape(v.pbx.join(', ') || 'none assigned')}</td></tr>
<tr><th>event test</th><td id="event-test">${test}</td></tr>
</table>
<h2>Test actions</h2>
${
  v.viewer.admin
    ? `${button('incoming-call', 'Incoming call for user 1')}${button('transfer', 'Transfer to user 2')}${button('drop', 'Drop the call')}
${button('event-test', 'Event test')}${button('refresh-directory', 'Refresh the extension map')}`
    : '<p id="admin-only">Test actions are for the portal’s administrators.</p>'
}
<form method="post" action="/bitrix/app/view"><input type="hidden" name="session" value="${s}"><button type="submit" data-action="view">Refresh</button></form>
<h2>Extensions</h2>
<p>Refreshed ${when(v.directory.refreshedAt)}${v.directory.error === null ? '' : ` <span class="warn">(last refresh failed: ${escape(v.directory.error)}; the last good map is kept)</span>`}</p>
<table id="directory"><tr><th>user</th><th>name</th><th>extension</th></tr>${users}</table>
</body></html>`;
}

function sessionOf(value: unknown): string {
  if (typeof value !== 'string' || value === '' || value.length > 500)
    throw new ServerError('APP_SESSION_REQUIRED', 401, 'open this page from Bitrix24');
  return value;
}

/** The page has no script, no images, no fonts: only its own styles and its own forms. */
const pagePolicy = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'";

export function registerAppPage(app: FastifyInstance, handler: AppPageHandler): void {
  const render = async (reply: FastifyReply, session: string, message?: string) => {
    const view = await handler.view(session);
    return framedBy(reply, view.portalOrigin, pagePolicy)
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .send(page(session, view, message));
  };
  const sessionIn = (body: unknown): string =>
    sessionOf(typeof body === 'object' && body !== null && 'session' in body ? body.session : undefined);

  app.register((scope, _options, done) => {
    acceptForms(scope, 64 * 1024);
    // Bitrix24 opens the page with a POST from the portal's frame.
    scope.post('/bitrix/app', async (request, reply) => {
      const form = openSchema.safeParse(request.body);
      if (!form.success)
        throw new ServerError('APP_SESSION_REQUIRED', 401, 'open this page from Bitrix24 (no AUTH_ID)');
      const { session } = await handler.open({ memberId: form.data.member_id, authId: form.data.AUTH_ID });
      return render(reply, session);
    });
    // The page again (its Refresh button): the session in the body.
    scope.post('/bitrix/app/view', async (request, reply) => render(reply, sessionIn(request.body)));
    // Older pages linked here with the session in the query; still answered, never produced.
    scope.get('/bitrix/app', async (request, reply) => {
      const query = checked(oldPageQuery, request.query, sessionRequired);
      return render(reply, sessionOf(query.session), query.message?.slice(0, 300));
    });
    // A button: the action runs, and the answer is the page with its outcome (no redirect, so the
    // session stays out of the URL).
    scope.post('/bitrix/app/actions/:name', async (request, reply) => {
      const { name } = checked(actionParams, request.params, {
        code: 'UNKNOWN_ACTION',
        status: 404,
        message: 'no such action',
      });
      const session = sessionIn(request.body);
      const { message } = await handler.action(session, name);
      return render(reply, session, message);
    });
    done();
  });
}
