import { encodeForm } from './http/params.ts';
import type { App, DeliveryLogEntry } from './portal/model.ts';
import type { Portal } from './portal/portal.ts';
import { enqueueOffline } from './offline.ts';

/** What fetch throws when nothing listens at the handler's address. */
export const refused = (): Error =>
  Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });

/** Events an app may bind, with the scope each needs (null: available to every app). */
export const knownEvents: Record<string, string | null> = {
  ONAPPINSTALL: null,
  ONAPPUNINSTALL: null,
  ONAPPUPDATE: null,
  ONAPPPAYMENT: null,
  ONAPPTEST: null,
  ONOFFLINEEVENT: null,
  ONEXTERNALCALLSTART: 'telephony',
  ONEXTERNALCALLBACKSTART: 'telephony',
  ONVOXIMPLANTCALLINIT: 'telephony',
  ONVOXIMPLANTCALLSTART: 'telephony',
  ONVOXIMPLANTCALLEND: 'telephony',
  ONCRMLEADADD: 'crm',
  ONCRMLEADUPDATE: 'crm',
  ONCRMLEADDELETE: 'crm',
  ONCRMCONTACTADD: 'crm',
  ONCRMCONTACTUPDATE: 'crm',
  ONCRMCONTACTDELETE: 'crm',
  ONCRMCOMPANYADD: 'crm',
  ONCRMCOMPANYUPDATE: 'crm',
  ONCRMCOMPANYDELETE: 'crm',
  ONCRMDEALADD: 'crm',
  ONCRMACTIVITYADD: 'crm',
  ONUSERADD: 'user',
};

export interface DeliveryOptions {
  /** Whose token goes into `auth` (the user whose action raised the event). */
  userId?: number;
  /** ONAPPINSTALL carries the installation's token pair, refresh token included. */
  tokens?: { access: string; refresh: string };
  /** ONAPPUNINSTALL carries no tokens at all. */
  withoutTokens?: boolean;
}

/**
 * Posts an event form-encoded to every online handler the app bound for it, once: Bitrix24 does not
 * retry a failed delivery. Nothing is sent before the app's installation is complete.
 */
export async function deliverEvent(
  portal: Portal,
  app: App,
  event: string,
  data: Record<string, unknown>,
  options: DeliveryOptions = {},
): Promise<DeliveryLogEntry[]> {
  if (!app.installed) return [];
  enqueueOffline(portal, app, event, data, options.userId, (wake) => {
    void deliverEvent(portal, app, 'ONOFFLINEEVENT', {
      type: 'add',
      event,
      handler: wake.handler,
      ...(wake.minTimeout > 0 ? { minTimeout: String(wake.minTimeout) } : {}),
    });
  });
  const handlers = portal.bindings.filter((b) => b.appId === app.id && b.event === event && b.offline === 0);
  return Promise.all(
    handlers.map(async (binding) => {
      const auth: Record<string, unknown> = {};
      if (!options.withoutTokens) {
        if (options.tokens) {
          auth.access_token = options.tokens.access;
          auth.refresh_token = options.tokens.refresh;
        } else {
          const userId = binding.authType > 0 ? binding.authType : (options.userId ?? app.installedBy);
          auth.access_token = portal.issueAccessToken(app, userId).token;
        }
        auth.expires_in = String(portal.settings.accessTokenLifetimeSec);
        auth.scope = app.scopes.join(',');
      }
      Object.assign(auth, {
        domain: portal.domain,
        server_endpoint: portal.serverEndpoint,
        status: app.status,
        client_endpoint: portal.clientEndpoint,
        member_id: portal.settings.memberId,
        application_token: app.applicationToken,
      });
      const body = encodeForm({
        event,
        event_handler_id: String(binding.id),
        data,
        ts: String(Math.floor(portal.clock.now() / 1000)),
        auth,
      });
      const started = Date.now();
      let status: number | null = null;
      let error: string | null = null;
      try {
        if (portal.settings.unreachableApp) throw refused();
        const res = await fetch(binding.handler, {
          method: 'POST',
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            'user-agent': 'Bitrix24 Webhook Engine',
          },
          body,
          signal: AbortSignal.timeout(portal.settings.eventTimeoutMs),
        });
        status = res.status;
        await res.body?.cancel();
        if (status < 200 || status >= 300) error = `handler answered HTTP ${status}`;
      } catch (e) {
        const err = e as Error & { cause?: { code?: string } };
        error = err.cause?.code ?? err.name;
      }
      const entry: DeliveryLogEntry = {
        at: new Date(portal.clock.now()).toISOString(),
        event,
        handler: binding.handler,
        appId: app.id,
        status,
        error,
        durationMs: Date.now() - started,
      };
      portal.logDelivery(entry);
      return entry;
    }),
  );
}

/**
 * An event about the portal itself (a CRM record changed), for every app that bound it: each
 * installed app's handlers get it, as with any event, once and without retries.
 */
export function broadcastEvent(
  portal: Portal,
  event: string,
  data: Record<string, unknown>,
  options: DeliveryOptions = {},
): Promise<DeliveryLogEntry[]> {
  return Promise.all(
    [...portal.apps.values()].map((app) => deliverEvent(portal, app, event, data, options)),
  ).then((lists) => lists.flat());
}
