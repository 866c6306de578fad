/**
 * `POST /bitrix/events`: every event the portal sends the application (ONAPPINSTALL,
 * ONAPPUNINSTALL, ONEXTERNALCALLSTART, ONEXTERNALCALLBACKSTART, ONAPPTEST). The server reads and
 * shapes the body; whether the event is genuine (its `application_token` and `member_id` match an
 * installation) is the bridge's decision, made before anything is done.
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { ServerError } from './errors.ts';
import { FormError, parseNestedForm, type FormObject, type FormValue } from './form.ts';

export interface BitrixEventAuth {
  memberId: string;
  /** A secret: never logged. Empty when the event carried none (then it is refused). */
  applicationToken: string;
  domain: string | undefined;
  clientEndpoint: string | undefined;
  serverEndpoint: string | undefined;
  /** Secrets (ONAPPINSTALL carries the installation's pair): never logged. */
  accessToken: string | undefined;
  refreshToken: string | undefined;
  expiresInSec: number | undefined;
}

export interface BitrixEvent {
  /** Upper case: `ONEXTERNALCALLSTART`. */
  event: string;
  /** The event's own fields (`data[...]`), as strings and nested objects. */
  data: FormObject;
  /** `ts`: when the portal raised it, seconds since the epoch, if given. */
  ts: number | null;
  auth: BitrixEventAuth;
  /** A digest of the event, its data and its `ts`: the same delivery repeated has the same one. */
  digest: string;
  /**
   * A digest of the event and its data without `ts`: the same event sent again with another `ts`
   * (a replay, which nobody signs) has the same one.
   */
  replayKey: string;
}

export interface BitrixEventOutcome {
  /** What was done, for the portal's delivery log and for tests: never a secret. */
  result: 'done' | 'duplicate' | 'ignored';
}

export type BitrixEventHandler = (event: BitrixEvent) => Promise<BitrixEventOutcome>;

const text = (v: FormValue | undefined): string | undefined =>
  typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;

/** The canonical JSON of a form value (keys sorted), for the digest. */
function canonical(v: FormValue): string {
  if (typeof v === 'string') return JSON.stringify(v);
  return `{${Object.keys(v)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonical(v[k] ?? '')}`)
    .join(',')}}`;
}

/** The event as typed values; refuses a body that is not a Bitrix24 event at all. */
export function parseBitrixEvent(form: FormObject): BitrixEvent {
  const event = text(form.event)?.toUpperCase();
  if (event === undefined || !/^[A-Z0-9_.]{1,100}$/.test(event))
    throw new ServerError('INVALID_EVENT', 400, 'the body has no valid event name');
  const object = (v: FormValue | undefined): FormObject =>
    typeof v === 'object' ? v : (Object.create(null) as FormObject);
  const auth = object(form.auth);
  const data = object(form.data);
  const memberId = text(auth.member_id);
  if (memberId === undefined || !/^[A-Za-z0-9_.-]{1,100}$/.test(memberId))
    throw new ServerError('EVENT_NOT_AUTHENTIC', 401, 'the event names no portal (auth[member_id])');
  const tsRaw = Number(text(form.ts));
  const expires = Number(text(auth.expires_in));
  const digestOf = (ts: string): string =>
    createHash('sha256')
      .update(`${memberId}\n${event}\n${ts}\n${canonical(data)}`)
      .digest('hex')
      .slice(0, 32);
  return {
    event,
    data,
    ts: Number.isFinite(tsRaw) && tsRaw > 0 ? tsRaw : null,
    auth: {
      memberId,
      applicationToken: text(auth.application_token) ?? '',
      domain: text(auth.domain),
      clientEndpoint: text(auth.client_endpoint),
      serverEndpoint: text(auth.server_endpoint),
      accessToken: text(auth.access_token),
      refreshToken: text(auth.refresh_token),
      expiresInSec: Number.isFinite(expires) && expires > 0 ? expires : undefined,
    },
    // ts tells two identical requests (two callbacks asked for the same number) apart.
    digest: digestOf(text(form.ts) ?? ''),
    replayKey: digestOf('*'),
  };
}

export function readForm(body: string): FormObject {
  try {
    return parseNestedForm(body);
  } catch (cause) {
    if (cause instanceof FormError)
      throw new ServerError('INVALID_EVENT', 400, `the body is not a valid form: ${cause.message}`, {
        cause,
      });
    throw cause;
  }
}

/**
 * Bitrix24's form bodies (events, the install callback, the app page) in one encapsulated fastify
 * scope: read with `readForm`, so a malformed one is a 400 naming the problem. Nothing else is read
 * there: Bitrix24 sends forms, and a JSON body (with its nulls and any depth) would bypass the
 * form's limits; it is answered 415.
 */
export function acceptForms(scope: FastifyInstance, bodyLimit: number): void {
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit },
    (_request, body, next) => {
      try {
        next(null, readForm(body as string));
      } catch (e) {
        next(e as Error);
      }
    },
  );
}

/** Events are small; anything bigger is not one. */
const EVENT_BODY_LIMIT = 256 * 1024;

export function registerBitrixEvents(
  app: FastifyInstance,
  handle: BitrixEventHandler,
  gate?: { admit(address: string, now: number): void },
): void {
  app.register((scope, _options, done) => {
    acceptForms(scope, EVENT_BODY_LIMIT);
    scope.post('/bitrix/events', async (request, reply) => {
      const body = request.body;
      if (typeof body !== 'object' || body === null)
        throw new ServerError('INVALID_EVENT', 400, 'expected a form-encoded Bitrix24 event');
      const event = parseBitrixEvent(body as FormObject);
      // An ONAPPINSTALL is an install: it may cost a request to the OAuth server.
      if (event.event === 'ONAPPINSTALL') gate?.admit(request.ip, Date.now());
      const outcome = await handle(event);
      return reply.send({ ok: true, ...outcome });
    });
    done();
  });
}
