/**
 * `POST /bitrix/events`: every event the portal sends the application (ONAPPINSTALL,
 * ONAPPUNINSTALL, ONEXTERNALCALLSTART, ONEXTERNALCALLBACKSTART, ONAPPTEST). The server reads and
 * shapes the body; whether the event is genuine (its `application_token` and `member_id` match an
 * installation) is the bridge's decision, made before anything is done.
 */
import type { FastifyInstance } from 'fastify';
import { ServerError } from '../http/index.ts';
import { FormError, parseNestedForm, type FormObject } from '../http/index.ts';
import { parseBitrixEvent, type BitrixEventHandler } from '../app/index.ts';

function readForm(body: string): FormObject {
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
