/**
 * `POST /bitrix/install`: the portal's install callback (the app's installation page), form
 * encoded, with the portal's domain in the query. The server only reads and checks the fields;
 * the bridge verifies the tokens with the portal before anything is stored.
 */
import type { FastifyInstance } from 'fastify';
import { ServerError, type FormObject } from '../http/index.ts';
import {
  parseBitrixEvent,
  parseInstallCallback,
  type BitrixEventHandler,
  type InstallHandler,
} from '../app/index.ts';
import { acceptForms } from './bitrix-events.ts';
import { framedBy } from './headers.ts';
import { MemoryAttemptLimiter } from '../security/index.ts';

/**
 * Install requests are anonymous until the OAuth server has answered, and each plausible one costs
 * a request with the client secret: so many per client address and overall per minute, no more.
 */
interface InstallGate {
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

const isForm = (body: unknown): body is FormObject => typeof body === 'object' && body !== null;

/** Inside Bitrix24 the page must call installFinish; the emulator completes on its own. */
const installedPage = `<!doctype html>
<html><head><meta charset="utf-8"><title>b24-bridge</title>
<script src="https://api.bitrix24.com/api/v1/"></script></head>
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
      // The form parser gave an object (or nothing); an `event` field makes it an event.
      const body = request.body;
      if (onEvent && isForm(body) && typeof body.event === 'string')
        return reply.send({ ok: true, ...(await onEvent(parseBitrixEvent(body))) });
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
