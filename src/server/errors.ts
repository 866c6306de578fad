/**
 * The server's one error handler: every typed error of the bridge becomes a JSON answer
 * `{error: {code, message, path?}}` with a status that tells the caller what to do (fix the
 * request, repeat it later, or call a person). Never a stack trace, never a secret: messages of
 * typed errors are written to be shown; anything untyped is logged and answered as INTERNAL.
 * A caller that asked for plain text (`Accept: text/plain`) gets one line, `error CODE: message`,
 * which no dialplan mistakes for a dial string (it has spaces).
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { BitrixError } from '../bitrix/index.ts';
import { ConfigError } from '../config/index.ts';
import { PbxApiError } from '../pbx/webhook/index.ts';
import { StoreError } from '../store/index.ts';
import { prefersText } from '../http/accept.ts';
import { ServerError } from '../http/errors.ts';

interface ErrorBody {
  error: { code: string; message: string; path?: string; location?: string; problems?: readonly unknown[] };
}

function errorAnswer(error: unknown): { status: number; body: ErrorBody } {
  if (error instanceof PbxApiError) return { status: error.status, body: error.toJSON() };
  if (error instanceof ServerError)
    return { status: error.status, body: { error: { code: error.code, message: error.message } } };
  if (error instanceof StoreError)
    // Not stored, so not acknowledged: the PBX (or the portal) sends it again later.
    return {
      status: 503,
      body: { error: { code: error.code, message: `not stored, repeat later: ${error.message}` } },
    };
  if (error instanceof BitrixError)
    return { status: 502, body: { error: { code: error.code, message: error.message } } };
  if (error instanceof ConfigError)
    return { status: 500, body: { error: { code: error.code, message: error.message } } };
  const fastifyError = error as Partial<FastifyError>;
  if (fastifyError.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
    return {
      status: 413,
      body: { error: { code: 'BODY_TOO_LARGE', message: 'the body is over the size limit', path: '' } },
    };
  const status = fastifyError.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500)
    // fastify's own refusals (unsupported media type, bad URL): their messages name no data.
    return {
      status,
      body: { error: { code: fastifyError.code ?? 'BAD_REQUEST', message: fastifyError.message ?? '' } },
    };
  return { status: 500, body: { error: { code: 'INTERNAL', message: 'internal error' } } };
}

/**
 * Answers the error; logs an internal failure with its stack, and a refused request (4xx: malformed,
 * forged, unauthenticated) as one short warning naming its code and route: never its body, never a
 * stack, so a flood of junk stays readable and leaks nothing.
 */
export function handleError(error: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const { status, body } = errorAnswer(error);
  if (status >= 500) request.log.error({ err: error, code: body.error.code }, 'request failed');
  else
    request.log.warn(
      { code: body.error.code, status, route: request.routeOptions.url ?? 'unknown', from: request.ip },
      'request refused',
    );
  if (status === 429 && error instanceof ServerError && error.retryAfterSec !== undefined)
    void reply.header('retry-after', String(error.retryAfterSec));
  if (prefersText(request.headers.accept))
    void reply
      .status(status)
      .type('text/plain; charset=utf-8')
      .send(`error ${body.error.code}: ${body.error.message.replace(/[\r\n]+/g, ' ')}\n`);
  else void reply.status(status).send(body);
}
