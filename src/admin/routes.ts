/** The admin pages and their htmx fragments. */
import { formOf, portalId, queueId } from './requests.ts';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { ServerError } from '../http/index.ts';
import type { Html } from './html.ts';
import {
  adminScript,
  boardPage,
  extensionsPage,
  HTMX_PATH,
  outboxPage,
  outboxTable,
  portalsPage,
  portalsTable,
  queueSection,
  queuesPage,
  SCRIPT_PATH,
} from './pages.ts';
import { parseQueueEdit, queueEditFromForm } from './queue-edit.ts';
import type { BoardStreams } from './board-stream.ts';
import type { AdminView } from './view.ts';

const sendHtml = (reply: FastifyReply, page: Html): FastifyReply =>
  reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(page.text);

/** htmx's own file, from the installed package: the UI works without the internet. */
let htmxSource: Promise<string> | undefined;
function htmx(): Promise<string> {
  htmxSource ??= readFile(createRequire(import.meta.url).resolve('htmx.org/dist/htmx.min.js'), 'utf8');
  return htmxSource;
}

export function registerStatic(app: FastifyInstance): void {
  app.get(HTMX_PATH, async (_request, reply) =>
    reply
      .type('text/javascript; charset=utf-8')
      .header('cache-control', 'public, max-age=86400')
      .send(await htmx()),
  );
  app.get(SCRIPT_PATH, (_request, reply) =>
    reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-cache').send(adminScript),
  );
}

export function registerPages(app: FastifyInstance, view: AdminView, boards: BoardStreams): void {
  app.get('/', (_request, reply) => sendHtml(reply, boardPage(boards.calls(), Date.now())));
  app.get('/board/stream', (request, reply) => {
    boards.serve(request, reply);
  });
  app.get('/queues', (_request, reply) => sendHtml(reply, queuesPage(view.queues(), view.lines())));
  app.post('/queues/:id', async (request, reply) => {
    const id = queueId(request.params);
    const form = formOf(request.body);
    const current = view.queues().find((q) => q.id === id);
    if (current === undefined) throw new ServerError('QUEUE_NOT_FOUND', 404, `no queue ${id}`);
    const draft = {
      members: typeof form.members === 'string' ? form.members : '',
      strategy: typeof form.strategy === 'string' ? form.strategy : '',
      memberTimeoutSec: typeof form.memberTimeoutSec === 'string' ? form.memberTimeoutSec : '',
    };
    const outcome = parseQueueEdit(queueEditFromForm(form));
    let section: Html;
    if (!outcome.ok) {
      reply.status(400);
      section = queueSection(current, { problems: outcome.problems }, draft);
    } else {
      try {
        const saved = await view.updateQueue(id, outcome.edit);
        section = queueSection(saved ?? current, { saved: true });
      } catch (e) {
        if (!(e instanceof ServerError) || e.status !== 400) throw e;
        reply.status(400);
        section = queueSection(current, { problems: [{ path: '', message: e.message }] }, draft);
      }
    }
    // htmx swaps the section in place; a form without script gets the whole page back.
    if (request.headers['hx-request'] === 'true') {
      // htmx leaves 4xx answers unswapped by default; this one is meant to be shown.
      if (reply.statusCode === 400) reply.status(200).header('x-queue-invalid', 'true');
      return sendHtml(reply, section);
    }
    if (reply.statusCode !== 400) return reply.redirect('/queues', 303);
    return sendHtml(
      reply,
      queuesPage(
        view.queues().map((q) => q),
        view.lines(),
      ),
    );
  });
  app.get('/extensions', async (_request, reply) => sendHtml(reply, extensionsPage(await view.extensions())));
  app.get('/outbox', async (_request, reply) =>
    sendHtml(reply, outboxPage(await view.backlog(), Date.now())),
  );
  app.get('/outbox/table', async (_request, reply) =>
    sendHtml(reply, outboxTable(await view.backlog(), Date.now())),
  );
  app.post('/outbox/:portal/replay', async (request, reply) => {
    const portal = portalId(request.params);
    if ((await view.replay(portal)) === undefined)
      throw new ServerError('PORTAL_NOT_FOUND', 404, `no portal ${portal}`);
    if (request.headers['hx-request'] === 'true')
      return sendHtml(reply, outboxTable(await view.backlog(), Date.now()));
    return reply.redirect('/outbox', 303);
  });
  app.get('/portals', async (_request, reply) =>
    sendHtml(reply, portalsPage(await view.portals(), Date.now())),
  );
  app.get('/portals/table', async (_request, reply) =>
    sendHtml(reply, portalsTable(await view.portals(), Date.now())),
  );
}
