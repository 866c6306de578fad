/**
 * The bridge's HTTP server: wiring only. Routes for the PBX API and the Bitrix24 install callback,
 * `/healthz`, and one error handler for all of them.
 */
import type { Socket } from 'node:net';
import { z } from 'zod';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
} from 'fastify';
import { registerAdmin, type AdminOptions } from '../admin/index.ts';
import type { BridgeConfig } from '../config/index.ts';
import type { StoreRecording } from '../pbx/webhook/index.ts';
import { CommandBoard, CommandRouter } from '../intake/index.ts';
import { checked, ServerError } from '../http/index.ts';
import { handleError } from './errors.ts';
import { RecordingStoreError, type RecordingLinks, type RecordingStore } from '../recordings/index.ts';
import type { AppPageHandler, BitrixEventHandler, InstallHandler } from '../app/index.ts';
import { installGate, registerInstall } from './install.ts';
import { registerSecurityHeaders } from './headers.ts';
import { registerBitrixEvents } from './bitrix-events.ts';
import { registerAppPage } from './app-page.ts';
import { registerPbxApi, type EventIntake } from './pbx-api.ts';

export interface ServerOptions {
  config: BridgeConfig;
  /** The outbox of the portal a PBX's calls belong to; undefined while no portal is connected. */
  outboxFor: (pbxId: string) => EventIntake | undefined;
  /** Commands waiting for the PBXes; a fresh in-memory board by default. */
  commands?: CommandBoard | undefined;
  /** Carries transfers/originations to their PBX (commandUrl or long poll); one over `commands` by default. */
  router?: CommandRouter | undefined;
  /** The install callback; without it `/bitrix/install` is not served (webhook mode). */
  install?: InstallHandler | undefined;
  /** Bitrix24's events (`POST /bitrix/events`); without it they are not served (webhook mode). */
  bitrixEvents?: BitrixEventHandler | undefined;
  /** The app page in Bitrix24's frame (`/bitrix/app`). */
  appPage?: AppPageHandler | undefined;
  /**
   * Inline recordings: stored per portal (`portalOf` a PBX) and served to the portal at
   * `GET /recordings/<ref>` through the signed links `links` makes.
   */
  recordings?:
    | { store: RecordingStore; links: RecordingLinks; portalOf: (pbxId: string) => string | undefined }
    | undefined;
  /** Instead of `recordings` (tests): where inline recordings go; nothing is served then. */
  storeRecording?: StoreRecording | undefined;
  routeTimeoutMs?: number | undefined;
  /** What `/healthz` adds to `{status: "ok"}`. */
  health?: (() => Record<string, unknown>) | undefined;
  logger?: FastifyServerOptions['logger'];
  /** A ready logger (pino, secrets scrubbed: `src/log/`); wins over `logger`. */
  loggerInstance?: FastifyBaseLogger | undefined;
  /** The admin UI at `/`, its API under `/api/`, and `/metrics`; without it `/` says where things are. */
  admin?: AdminOptions | undefined;
}

export interface BridgeServer {
  app: FastifyInstance;
  commands: CommandBoard;
  router: CommandRouter;
  /**
   * The first step of a stop: long polls end now with what they have, and every answer from here
   * on closes its connection, so the server's close waits for no idle keep-alive connection.
   */
  drain(): void;
}

/**
 * A line per request and per answer is for debugging: at `info` a PBX's long polls and events
 * alone would bury what an operator needs to read. A request that errored stays at `error`.
 */
class DebugRequestLogs extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    if (!this.isLogDisabled(request)) request.log.debug({ req: request }, 'incoming request');
  }

  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    if (this.isLogDisabled(request)) return;
    if (error)
      reply.log.error({ res: reply, err: error, responseTime: reply.elapsedTime }, 'request errored');
    else reply.log.debug({ res: reply, responseTime: reply.elapsedTime }, 'request completed');
  }
}

/** A recording link: `/recordings/<ref>?expires=…&sig=…`; the signature is checked by the links. */
const recordingParams = z.object({ ref: z.string().min(1).max(200) });
const recordingQuery = z.object({
  expires: z.string().max(20).optional(),
  sig: z.string().max(200).optional(),
});

export function buildServer(options: ServerOptions): BridgeServer {
  // Long polls hold a request up to 28 s; a slow client must not hold a socket forever either.
  const requestTimeout = 60_000;
  // Behind a proxy the client's address is in X-Forwarded-For; trusted only when configured.
  const trustProxy = options.config.server.trustProxy ?? false;
  const logController = new DebugRequestLogs();
  const app: FastifyInstance = options.loggerInstance
    ? Fastify({ loggerInstance: options.loggerInstance, requestTimeout, trustProxy, logController })
    : Fastify({ logger: options.logger ?? false, requestTimeout, trustProxy, logController });
  const commands = options.commands ?? new CommandBoard();
  const recordings = options.recordings;
  const router =
    options.router ??
    new CommandRouter({
      pbxes: options.config.pbx.map((p) => ({ id: p.id, token: p.token, commandUrl: p.commandUrl })),
      board: commands,
      onPostFailed: (pbxId, commandId, reason) =>
        app.log.warn(
          { pbxId, commandId, reason },
          'PBX command URL did not take the command; it waits at the long poll',
        ),
    });
  app.setErrorHandler(handleError);
  registerSecurityHeaders(app);
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send({
      error: {
        code: 'NOT_FOUND',
        message: `no route ${request.method} ${request.url.split('?')[0] ?? ''}`,
      },
    });
  });
  if (options.admin) registerAdmin(app, options.admin);
  // Without the admin UI, where things are.
  else
    app.get('/', (_request, reply) =>
      reply.send({ name: 'b24-bridge', healthz: '/healthz', pbxApi: '/pbx/v1/openapi.json' }),
    );
  app.get('/healthz', (_request, reply) => reply.send({ status: 'ok', ...(options.health?.() ?? {}) }));
  registerPbxApi(app, {
    config: options.config,
    outboxFor: options.outboxFor,
    commands,
    router,
    storeRecording: options.storeRecording,
    recordingsOf: recordings
      ? (pbxId) => {
          const portal = recordings.portalOf(pbxId);
          return portal === undefined
            ? undefined
            : (upload) => recordings.store.put({ ...upload, portal }, Date.now());
        }
      : undefined,
    routeTimeoutMs: options.routeTimeoutMs,
    onLateRoute: (pbxId, callId) => app.log.warn({ pbxId, callId }, 'route answered with the fallback plan'),
  });
  if (recordings) {
    // The link's signature is the key: the portal fetches exactly the URL it was given.
    app.get('/recordings/:ref', async (request, reply) => {
      const notFound = { code: 'RECORDING_NOT_FOUND', status: 404, message: 'no such recording' };
      const { ref } = checked(recordingParams, request.params, notFound);
      const query = checked(recordingQuery, request.query, notFound);
      const verdict = recordings.links.check(ref, query.expires, query.sig, Date.now());
      if (verdict === 'expired')
        throw new ServerError('RECORDING_LINK_EXPIRED', 403, 'this recording link has expired');
      if (verdict === 'invalid') throw new ServerError('RECORDING_NOT_FOUND', 404, 'no such recording');
      let file;
      try {
        file = await recordings.store.get(ref);
      } catch (cause) {
        if (cause instanceof RecordingStoreError && cause.code === 'RECORDING_NOT_FOUND')
          throw new ServerError('RECORDING_NOT_FOUND', 404, 'no such recording', { cause });
        throw cause;
      }
      const name = (file.filename ?? `${ref.slice(-16)}.mp3`).replace(/[^\w.-]/g, '_');
      return reply
        .header('content-type', 'application/octet-stream')
        .header('content-disposition', `attachment; filename="${name}"`)
        .header('cache-control', 'private, no-store')
        .send(file.content);
    });
  }
  const bitrix = options.config.bitrix;
  const gate = installGate(bitrix.mode === 'app' ? bitrix.installLimit : { perAddress: 10, overall: 60 });
  if (options.install) registerInstall(app, options.install, options.bitrixEvents, gate);
  if (options.bitrixEvents) registerBitrixEvents(app, options.bitrixEvents, gate);
  if (options.appPage) registerAppPage(app, options.appPage);
  let draining = false;
  app.addHook('onSend', async (_request, reply) => {
    if (draining) reply.header('connection', 'close');
  });
  app.addHook('onClose', () => {
    router.close();
    commands.close();
  });
  // Connections on which no answer can be waiting hold a closing server until their timeouts: one
  // that never sent a byte (a client's spare connection, opened ahead of a request, as a PBX's HTTP
  // client does around an aborted long poll) and one whose client closed its side. They go at a stop;
  // idle keep-alive connections are fastify's to close, and the rest get their answer and close.
  const sockets = new Set<Socket>();
  app.server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  const drain = (): void => {
    draining = true;
    commands.close();
    for (const socket of sockets) if (socket.bytesRead === 0 || socket.readableEnded) socket.destroy();
  };
  return { app, commands, router, drain };
}
