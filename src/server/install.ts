/**
 * `POST /bitrix/install`: the portal's install callback (the app's installation page), form
 * encoded, with the portal's domain in the query. The server only reads and checks the fields;
 * the bridge verifies the tokens with the portal before anything is stored.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ServerError } from './errors.ts';
import { acceptForms, parseBitrixEvent, type BitrixEventHandler } from './bitrix-events.ts';
import { framedBy } from './headers.ts';
import { MemoryAttemptLimiter } from '../security/index.ts';

export interface InstallCallback {
  memberId: string;
  domain: string;
  /** `https://<domain>/rest/` (http when the portal says PROTOCOL=0: the emulator). */
  clientEndpoint: string;
  /** The OAuth server's REST endpoint (SERVER_ENDPOINT). */
  serverEndpoint: string | undefined;
  /** Secrets: never logged. */
  accessToken: string;
  refreshToken: string;
  expiresInSec: number;
  applicationToken: string | undefined;
}

/** Installs (or re-installs) after checking; answers the verified portal's origin (it frames the page). */
export type InstallHandler = (callback: InstallCallback) => Promise<{ portalOrigin: string | null }>;

/**
 * Install requests are anonymous until the OAuth server has answered, and each plausible one costs
 * a request with the client secret: so many per client address and overall per minute, no more.
 */
export interface InstallGate {
  /** Counts a request from `address`; throws 429 when it is over a limit. */
  admit(address: string, now: number): void;
}

export function installGate(limits: { perAddress: number; overall: number }): InstallGate {
  const minute = 60_000;
  const perAddress = new MemoryAttemptLimiter({
    max: limits.perAddress,
    windowMs: minute,
    lockoutMs: minute,
  });
  const overall = new MemoryAttemptLimiter({ max: limits.overall, windowMs: minute, lockoutMs: minute });
  return {
    admit(address, now) {
      for (const [limiter, key] of [
        [perAddress, address],
        [overall, '*'],
      ] as const) {
        const verdict = limiter.check(key, now);
        if (!verdict.allowed)
          throw new ServerError('TOO_MANY_INSTALLS', 429, 'too many install requests; try again later', {
            retryAfterSec: Math.ceil(verdict.retryAfterMs / 1000),
          });
      }
      perAddress.record(address, now);
      overall.record('*', now);
    },
  };
}

/**
 * Tokens as Bitrix24 issues them: letters, digits and a few marks. Anything else is refused before
 * the OAuth server is asked (a request that cannot be genuine costs no outbound call).
 */
const tokenText = (max: number) => z.string().regex(new RegExp(`^[A-Za-z0-9._~-]{1,${max}}$`));

const formSchema = z.object({
  AUTH_ID: tokenText(500),
  REFRESH_ID: tokenText(500),
  AUTH_EXPIRES: z.coerce.number().int().min(1).max(86_400).optional(),
  member_id: z.string().regex(/^[A-Za-z0-9_.-]{1,100}$/),
  APPLICATION_TOKEN: tokenText(200).optional(),
  SERVER_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
});

const querySchema = z.object({
  // host[:port]; nothing that could turn the REST endpoint into another URL.
  DOMAIN: z.string().regex(/^[A-Za-z0-9.-]{1,253}(:\d{1,5})?$/),
  PROTOCOL: z.enum(['0', '1']).optional(),
});

/** The callback as typed values; names the first field it refuses, never a value. */
export function parseInstallCallback(form: unknown, query: unknown): InstallCallback {
  const f = formSchema.safeParse(form);
  const q = querySchema.safeParse(query);
  const issue = !f.success ? f.error.issues[0] : !q.success ? q.error.issues[0] : undefined;
  if (!f.success || !q.success) {
    const field = issue?.path.join('.') ?? '';
    throw new ServerError('INVALID_INSTALL', 400, `the install callback has no valid ${field}`);
  }
  const scheme = q.data.PROTOCOL === '0' ? 'http' : 'https';
  return {
    memberId: f.data.member_id,
    domain: q.data.DOMAIN,
    clientEndpoint: `${scheme}://${q.data.DOMAIN}/rest/`,
    serverEndpoint: f.data.SERVER_ENDPOINT,
    accessToken: f.data.AUTH_ID,
    refreshToken: f.data.REFRESH_ID,
    expiresInSec: f.data.AUTH_EXPIRES ?? 3600,
    applicationToken: f.data.APPLICATION_TOKEN,
  };
}

/** Inside Bitrix24 the page must call installFinish; the emulator completes on its own. */
const installedPage = `<!doctype html>
<html><head><meta charset="utf-8"><title>b24-bridge</title>
<script src="//api.bitrix24.com/api/v1/"></script></head>
<body><p>b24-bridge is installed.</p>
<script>if (window.BX24) BX24.init(function () { BX24.installFinish(); });</script>
</body></html>`;

/**
 * The install URL gets either the installation page's form (AUTH_ID, REFRESH_ID, …) or, for an
 * app registered without a page, the ONAPPINSTALL event itself: that goes to the event handler.
 */
export function registerInstall(
  app: FastifyInstance,
  install: InstallHandler,
  onEvent: BitrixEventHandler | undefined,
  gate: InstallGate,
): void {
  app.register((scope, _options, done) => {
    acceptForms(scope, 64 * 1024);
    scope.post('/bitrix/install', async (request, reply) => {
      gate.admit(request.ip, Date.now());
      const body = request.body as Record<string, unknown> | null | undefined;
      if (onEvent && typeof body === 'object' && body !== null && typeof body.event === 'string') {
        return reply.send({ ok: true, ...(await onEvent(parseBitrixEvent(body as never))) });
      }
      const { portalOrigin } = await install(parseInstallCallback(request.body, request.query));
      // Shown in the portal's frame: that portal may frame it, nobody else.
      return framedBy(
        reply,
        portalOrigin,
        "default-src 'none'; script-src 'unsafe-inline' https://api.bitrix24.com",
      )
        .type('text/html; charset=utf-8')
        .send(installedPage);
    });
    done();
  });
}
