/**
 * The generic PBX API, `/pbx/v1`: HTTP wiring of `src/pbx/webhook` (parsing, validation, token)
 * to the portal's outbox. Bodies arrive as raw bytes (any content type, at most 1 MiB) because the
 * webhook parser owns size, UTF-8 and JSON errors, so they name the problem in the API's terms.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { BridgeConfig } from '../config/index.ts';
import type { PbxEffect } from '../core/index.ts';
import { type PbxCommand, type PlanStep, type RouteRequested } from '../pbx/index.ts';
import {
  authenticatePbx,
  DEFAULT_MAX_BODY_BYTES,
  parseCommandAck,
  parseCommandId,
  parseCommandsQuery,
  parseEventsBody,
  parseJsonBody,
  parseRouteBody,
  parseRouteForm,
  PbxApiError,
  pbxOpenApiDocument,
  routeDialString,
  routeResponse,
  toEngineEvents,
  type ApiEvent,
  type Problem,
  type StoreRecording,
} from '../pbx/webhook/index.ts';
import { prefersText, ServerError } from '../http/index.ts';
import { getCall } from '../core/index.ts';
import { checkPublicUrl, hostAllowed, type HostLookup } from '../security/index.ts';
import {
  acceptPbxEvents,
  fallbackPlan,
  routeCall,
  sha,
  type CommandBoard,
  CommandRouter,
  type EventIntake,
} from '../intake/index.ts';

export type { EventIntake } from '../intake/index.ts';

interface PbxApiOptions {
  config: BridgeConfig;
  /** The outbox of the portal a PBX's calls belong to; undefined while no portal is connected. */
  outboxFor: (pbxId: string) => EventIntake | undefined;
  commands: CommandBoard;
  /** Carries transfers/originations to their PBX; by default straight onto `commands`. */
  router?: CommandRouter | undefined;
  /** Where inline recordings (`contentBase64`) go; without it they are refused (503). */
  storeRecording?: StoreRecording | undefined;
  /** Where a PBX's inline recordings go (its portal's recordings); wins over `storeRecording`. */
  recordingsOf?: ((pbxId: string) => StoreRecording | undefined) | undefined;
  /** How recording URLs' host names are resolved (tests); the system resolver by default. */
  lookup?: HostLookup | undefined;
  /** `POST /route` answers the configured fallback plan after this long. Default 300 ms. */
  routeTimeoutMs?: number | undefined;
  now?: (() => number) | undefined;
  /** Told when the engine's answer to a route came after the fallback was sent. */
  onLateRoute?: ((pbxId: string, callId: string) => void) | undefined;
}

/**
 * The journal's dedupe key of an event, so a repeated event is stepped once. An event with its own
 * `at` is the same event whenever it comes; one without `at` is only recognisable as part of the
 * same request repeated (same bytes, same position), since its time is the time it arrived.
 */
function dedupeKeyOf(pbxId: string, event: ApiEvent, raw: Buffer, index: number): string {
  return event.at == null
    ? `${pbxId}/${event.callId}/${event.type}/body:${sha(raw)}:${index}`
    : `${pbxId}/${event.callId}/${event.type}/event:${sha(JSON.stringify(event))}`;
}

const noRecordingStore: StoreRecording = () =>
  Promise.reject(new Error('this bridge stores no uploaded recordings yet'));

export function registerPbxApi(app: FastifyInstance, options: PbxApiOptions): void {
  const { config, commands } = options;
  const now = options.now ?? Date.now;
  const routeTimeoutMs = options.routeTimeoutMs ?? 300;
  const credentials = config.pbx.map((p) => ({ id: p.id, token: p.token }));

  const recordingHostsOf = (pbxId: string): readonly string[] | undefined =>
    config.pbx.find((p) => p.id === pbxId)?.recordingHosts;
  /**
   * How the dialplan dials an extension: an Asterisk's first device pattern (`PJSIP/{ext}`), as
   * click-to-call rings a phone; the bare extension for any other PBX.
   */
  const deviceOf = (pbxId: string): ((extension: string) => string) => {
    const pattern = config.pbx.find((p) => p.id === pbxId)?.ami?.devicePattern;
    const first = Array.isArray(pattern) ? pattern[0] : pattern;
    return first === undefined ? (extension) => extension : (extension) => first.replace('{ext}', extension);
  };
  const authenticate = (request: FastifyRequest): string => {
    const result = authenticatePbx(request.headers.authorization, credentials);
    if (!result.ok) throw result.error;
    return result.value;
  };
  const outboxOf = (pbxId: string): EventIntake => {
    const outbox = options.outboxFor(pbxId);
    if (!outbox) throw new ServerError('NO_PORTAL', 503, 'no Bitrix24 portal is connected yet; repeat later');
    return outbox;
  };
  const router =
    options.router ??
    new CommandRouter({ pbxes: config.pbx.map((p) => ({ id: p.id, token: p.token })), board: commands });
  /**
   * Transfers and originations go to the PBX; plans are answered in place. The bridge also hands
   * the outbox's `pbx` events to the same router (steps of timers and results); it acts once.
   */
  const dispatch = (pbxId: string, effects: readonly PbxEffect[]): void => {
    router.dispatch(effects, pbxId);
  };

  app.register(
    (pbx, _options, done) => {
      pbx.removeAllContentTypeParsers();
      pbx.addContentTypeParser(
        '*',
        { parseAs: 'buffer', bodyLimit: DEFAULT_MAX_BODY_BYTES },
        (_r, body, next) => next(null, body),
      );
      const rawOf = (request: FastifyRequest): Buffer =>
        Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);

      pbx.get('/openapi.json', (_request, reply) =>
        reply.send(
          pbxOpenApiDocument(
            config.server.publicUrl === undefined ? {} : { serverUrl: config.server.publicUrl },
          ),
        ),
      );

      pbx.post('/events', async (request, reply) => {
        const pbxId = authenticate(request);
        const receivedAt = now();
        const raw = rawOf(request);
        const parsed = parseEventsBody(raw);
        if (!parsed.ok) throw parsed.error;
        // A batch is a JSON array: its problems' paths start with the event's index.
        const batch = /^\s*\[/.test(raw.subarray(0, 64).toString('utf8'));
        await checkRecordingUrls(parsed.value, batch, recordingHostsOf(pbxId), options.lookup);
        const outbox = outboxOf(pbxId);
        checkRecordingCalls(parsed.value, batch, outbox);
        for (const event of parsed.value)
          if (event.type === 'call.answered' || event.type === 'call.ended')
            commands.withdrawTransfers(pbxId, event.callId);
        const events = await toEngineEvents(parsed.value, {
          receivedAt,
          storeRecording: options.recordingsOf?.(pbxId) ?? options.storeRecording ?? noRecordingStore,
        });
        const inputs = events.map((event, index) => {
          const apiEvent = parsed.value[index];
          router.remember(pbxId, event.callId);
          return {
            input: event,
            dedupeKey: apiEvent === undefined ? undefined : dedupeKeyOf(pbxId, apiEvent, raw, index),
          };
        });
        await acceptPbxEvents(outbox, inputs, (effects) => dispatch(pbxId, effects));
        return reply.status(202).send({ accepted: events.length });
      });

      pbx.post('/route', async (request, reply) => {
        const pbxId = authenticate(request);
        // A form (Asterisk's CURL() posts one) or JSON; the content type says which.
        const form = /^application\/x-www-form-urlencoded\b/i.test(request.headers['content-type'] ?? '');
        const parsed = form ? parseRouteForm(rawOf(request)) : parseRouteBody(rawOf(request));
        if (!parsed.ok) throw parsed.error;
        const plan = await route(pbxId, parsed.value);
        if (!prefersText(request.headers.accept)) return routeResponse(plan);
        return reply.type('text/plain; charset=utf-8').send(`${routeDialString(plan, deviceOf(pbxId))}\n`);
      });

      pbx.get('/commands', async (request) => {
        const pbxId = authenticate(request);
        const query = parseCommandsQuery(request.query);
        if (!query.ok) throw query.error;
        const hangUp = new AbortController();
        request.raw.once('close', () => hangUp.abort());
        const list: PbxCommand[] = await commands.take(
          pbxId,
          query.value.limit,
          query.value.waitSec * 1000,
          hangUp.signal,
        );
        return list;
      });

      pbx.post('/commands/:commandId/ack', async (request, reply) => {
        const pbxId = authenticate(request);
        const id = parseCommandId(
          typeof request.params === 'object' && request.params !== null && 'commandId' in request.params
            ? request.params.commandId
            : undefined,
        );
        if (!id.ok) throw id.error;
        const raw = rawOf(request);
        let body: unknown = undefined;
        if (raw.length > 0) {
          const json = parseJsonBody(raw);
          if (!json.ok) throw json.error;
          body = json.value;
        }
        const ack = parseCommandAck(body);
        if (!ack.ok) throw ack.error;
        // A failed command is only logged for now: the engine's own timeouts (originate, transfer)
        // carry the call on; telling the engine at once needs an input it does not have yet.
        if (ack.value.status === 'failed')
          request.log.warn({ pbxId, commandId: id.value, reason: ack.value.reason }, 'PBX command failed');
        if (commands.ack(pbxId, id.value) === 'unknown')
          throw new PbxApiError([
            {
              code: 'UNKNOWN_COMMAND',
              path: '/commandId',
              location: 'path',
              message: 'no command of this id was sent to this PBX',
            },
          ]);
        return reply.status(204).send();
      });
      done();
    },
    { prefix: '/pbx/v1' },
  );

  /**
   * The engine's plan, or the configured fallback when the engine's step is not stored within
   * `routeTimeoutMs` (or fails). A step that lands late still stands in the engine; the PBX rings
   * the fallback, and its own events (ringing, answered) tell the engine what really happened.
   */
  async function route(pbxId: string, request: RouteRequested): Promise<readonly PlanStep[]> {
    const outbox = options.outboxFor(pbxId);
    if (outbox) router.remember(pbxId, request.callId);
    return routeCall(outbox, request, {
      fallback: () => fallbackPlan(config.engine, request),
      timeoutMs: routeTimeoutMs,
      dispatch: (effects) => dispatch(pbxId, effects),
      onLate: () => options.onLateRoute?.(pbxId, request.callId),
    });
  }
}

/** Whether `url`'s host is one of `hosts` (`host`, `host:port`, or `*.domain` for its subdomains). */
export const recordingHostAllowed = hostAllowed;

const pathOf = (batch: boolean, index: number, field: string): string =>
  batch ? `/${String(index)}/${field}` : `/${field}`;

/**
 * A PBX's recording URLs must name its configured hosts, or without any configured a host whose
 * every address is public (checked after DNS resolution): the portal downloads from whatever URL it
 * is given, so an unchecked one would let a PBX's request point the portal (or anyone reading the
 * CRM) at the loopback, a private network or a cloud's metadata service. Refused whole, before
 * anything is stored.
 */
async function checkRecordingUrls(
  events: readonly ApiEvent[],
  batch: boolean,
  hosts: readonly string[] | undefined,
  lookup: HostLookup | undefined,
): Promise<void> {
  const problems: Problem[] = [];
  for (const [index, event] of events.entries()) {
    if (event.type !== 'recording.ready' || event.url == null) continue;
    const verdict = await checkPublicUrl(event.url, { allowHosts: hosts, lookup });
    if (verdict.ok) continue;
    const path = pathOf(batch, index, 'url');
    problems.push({
      code: 'INVALID_VALUE',
      path,
      location: 'body',
      message:
        verdict.reason === 'not-allowed'
          ? `${path}: the recording URL's host is not one of this PBX's recordingHosts`
          : `${path}: the recording URL's host is not a public address (loopback, private, link-local or metadata); list it in this PBX's recordingHosts to allow it`,
    });
  }
  const [first, ...rest] = problems;
  if (first) throw new PbxApiError([first, ...rest]);
}

/**
 * An inline recording is stored only for a call the bridge knows (its engine has it, or an earlier
 * event of the same batch starts it): bytes for any call id would fill the disk for nothing.
 */
function checkRecordingCalls(events: readonly ApiEvent[], batch: boolean, outbox: EventIntake): void {
  const state = outbox.engineState;
  if (state === undefined) return;
  const started = new Set<string>();
  const problems: Problem[] = [];
  events.forEach((event, index) => {
    if (event.type === 'call.started') started.add(event.callId);
    if (event.type !== 'recording.ready' || event.contentBase64 == null) return;
    if (started.has(event.callId) || getCall(state, event.callId) !== null) return;
    const path = pathOf(batch, index, 'callId');
    problems.push({
      code: 'UNKNOWN_CALL',
      path,
      location: 'body',
      message: `${path}: no call of this id is known: send its call.started first, then the recording`,
    });
  });
  const [first, ...rest] = problems;
  if (first) throw new PbxApiError([first, ...rest]);
}
