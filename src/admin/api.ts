/** The admin JSON API under `/api/`: what the pages show, for scripts. */
import { portalId, queueId } from './requests.ts';
import type { FastifyInstance } from 'fastify';
import { ServerError } from '../http/index.ts';
import { describeProblems, parseQueueEdit } from './queue-edit.ts';
import type { StreamHub } from './stream.ts';
import type { AdminView } from './view.ts';

export function registerApi(app: FastifyInstance, view: AdminView, hub: StreamHub): void {
  app.get('/api/calls', () => ({ calls: view.calls() }));
  app.get('/api/calls/stream', (request, reply) => {
    hub.serve(request, reply, {
      view,
      event: 'calls',
      render: () => JSON.stringify({ calls: view.calls() }),
    });
  });
  app.get('/api/queues', () => ({ queues: view.queues() }));
  app.get('/api/lines', () => ({ lines: view.lines() }));
  app.get('/api/extensions', async () => ({ portals: await view.extensions() }));
  app.get('/api/portals', async () => ({ portals: await view.portals() }));
  app.get('/api/outbox', async () => ({ portals: await view.backlog() }));

  app.put('/api/queues/:id', async (request, reply) => {
    const id = queueId(request.params);
    const outcome = parseQueueEdit(request.body);
    if (!outcome.ok)
      return reply.status(400).send({
        error: {
          code: 'INVALID_QUEUE',
          message: `the queue was not changed: ${describeProblems(outcome.problems)}`,
          problems: outcome.problems,
        },
      });
    const queue = await view.updateQueue(id, outcome.edit);
    if (queue === undefined) throw new ServerError('QUEUE_NOT_FOUND', 404, `no queue ${id}`);
    return { queue };
  });

  app.post('/api/outbox/:portal/replay', async (request) => {
    const portal = portalId(request.params);
    const started = await view.replay(portal);
    if (started === undefined) throw new ServerError('PORTAL_NOT_FOUND', 404, `no portal ${portal}`);
    return { replay: started };
  });
}
