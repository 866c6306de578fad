/**
 * The bridge's HTTP server: wiring only. Routes for the PBX API and the Bitrix24 install callback,
 * `/healthz`, and one error handler for all of them.
 */
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { BridgeConfig } from '../config/index.ts';
import type { StoreRecording } from '../pbx/webhook/index.ts';
import { CommandBoard } from './commands.ts';
import { handleError } from './errors.ts';
import { registerInstall, type InstallHandler } from './install.ts';
import { registerPbxApi, type EventIntake } from './pbx-api.ts';

export interface ServerOptions {
  config: BridgeConfig;
  /** The outbox of the portal a PBX's calls belong to; undefined while no portal is connected. */
  outboxFor: (pbxId: string) => EventIntake | undefined;
  /** Commands waiting for the PBXes; a fresh in-memory board by default. */
  commands?: CommandBoard | undefined;
  /** The install callback; without it `/bitrix/install` is not served (webhook mode). */
  install?: InstallHandler | undefined;
  storeRecording?: StoreRecording | undefined;
  routeTimeoutMs?: number | undefined;
  /** What `/healthz` adds to `{status: "ok"}`. */
  health?: (() => Record<string, unknown>) | undefined;
  logger?: FastifyServerOptions['logger'];
}

export interface BridgeServer {
  app: FastifyInstance;
  commands: CommandBoard;
}

export function buildServer(options: ServerOptions): BridgeServer {
  const app = Fastify({
    logger: options.logger ?? false,
    // Long polls hold a request up to 28 s; a slow client must not hold a socket forever either.
    requestTimeout: 60_000,
  });
  const commands = options.commands ?? new CommandBoard();
  app.setErrorHandler(handleError);
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send({
      error: {
        code: 'NOT_FOUND',
        message: `no route ${request.method} ${request.url.split('?')[0] ?? ''}`,
      },
    });
  });
  // The admin UI will live here (issue 6); until then, where things are.
  app.get('/', (_request, reply) =>
    reply.send({ name: 'b24-bridge', healthz: '/healthz', pbxApi: '/pbx/v1/openapi.json' }),
  );
  app.get('/healthz', (_request, reply) => reply.send({ status: 'ok', ...(options.health?.() ?? {}) }));
  registerPbxApi(app, {
    config: options.config,
    outboxFor: options.outboxFor,
    commands,
    storeRecording: options.storeRecording,
    routeTimeoutMs: options.routeTimeoutMs,
    onLateRoute: (pbxId, callId) => app.log.warn({ pbxId, callId }, 'route answered with the fallback plan'),
  });
  if (options.install) registerInstall(app, options.install);
  app.addHook('onClose', () => commands.close());
  return { app, commands };
}
