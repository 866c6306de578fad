/**
 * Security headers on every answer. By default nothing of the bridge may be framed (the admin UI
 * must not be clickjacked) and pages load only their own scripts; the pages Bitrix24 shows in its
 * frame (the app page, the installer's answer) say which portal may frame them instead.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';

/** The admin UI: its own scripts (htmx, the page script) and inline styles, nothing from elsewhere. */
const defaultPolicy = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "object-src 'none'",
].join('; ');

/**
 * A page framed by the portal (`origin`): its policy names who may frame it; without a known
 * portal, nobody may.
 */
export function framedBy(reply: FastifyReply, origin: string | null, policy: string): FastifyReply {
  return reply.header(
    'content-security-policy',
    `${policy}; frame-ancestors ${origin === null ? "'none'" : origin}`,
  );
}

export function registerSecurityHeaders(app: FastifyInstance): void {
  app.addHook('onSend', (_request, reply, payload, done) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    if (!reply.hasHeader('content-security-policy')) {
      reply.header('content-security-policy', defaultPolicy);
      reply.header('x-frame-options', 'DENY');
    }
    done(null, payload);
  });
}
