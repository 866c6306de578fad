/** `/journal`, `/journal/<call key>` and `/api/journal`: the call journal behind the admin login. */
import { callKey } from './requests.ts';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { JournalReader } from '../journal/index.ts';
import { ServerError } from '../http/index.ts';
import type { Html } from './html.ts';
import { journalCallPage, journalPage } from './journal-pages.ts';
import { parseJournalQuery, queryForm } from './journal-query.ts';

const sendHtml = (reply: FastifyReply, page: Html): FastifyReply =>
  reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(page.text);

const portalOf = (query: unknown): string | undefined => {
  const p = (query as { portal?: unknown } | null)?.portal;
  return typeof p === 'string' && p !== '' && p.length <= 300 ? p : undefined;
};

export function registerJournal(app: FastifyInstance, journal: JournalReader | undefined): void {
  app.get('/journal', async (request, reply) => {
    const form = queryForm(request.query);
    const parsed = parseJournalQuery(request.query);
    if (!parsed.ok) {
      reply.status(400);
      return sendHtml(
        reply,
        journalPage({ form, calls: [], problems: parsed.problems, available: journal !== undefined }),
      );
    }
    const calls = journal ? await journal.search(parsed.query) : [];
    return sendHtml(reply, journalPage({ form, calls, available: journal !== undefined }));
  });
  app.get('/journal/:key', async (request, reply) => {
    const key = callKey(request.params);
    const call = key.length <= 300 ? await journal?.call(key, portalOf(request.query)) : undefined;
    if (!call) throw new ServerError('CALL_NOT_FOUND', 404, 'no such call in the journal');
    return sendHtml(reply, journalCallPage(call));
  });
  app.get('/api/journal', async (request, reply) => {
    const parsed = parseJournalQuery(request.query);
    if (!parsed.ok)
      return reply.status(400).send({
        error: {
          code: 'INVALID_QUERY',
          message: parsed.problems.map((p) => `${p.field}: ${p.message}`).join('; '),
          problems: parsed.problems,
        },
      });
    if (!journal)
      throw new ServerError('JOURNAL_UNAVAILABLE', 503, 'the call journal is not kept by this store');
    return { calls: await journal.search(parsed.query) };
  });
  app.get('/api/journal/:key', async (request) => {
    const key = callKey(request.params);
    const call = key.length <= 300 ? await journal?.call(key, portalOf(request.query)) : undefined;
    if (!call) throw new ServerError('CALL_NOT_FOUND', 404, 'no such call in the journal');
    return call;
  });
}
