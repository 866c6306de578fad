import { core, errors, RestError } from '../errors.ts';
import { deliverEvent, knownEvents } from '../events.ts';
import { isRecord, toInt, toStr, type Params } from '../http/params.ts';
import type { App, Binding } from '../portal/model.ts';
import { ok, type CallContext, type MethodDef } from './types.ts';

const lowerKeys = (p: Params): Params =>
  Object.fromEntries(Object.entries(p).map(([k, v]) => [k.toLowerCase(), v]));

/** event.* and app.info work in an application's context only. */
function appOf(ctx: CallContext): App {
  if (ctx.auth.kind !== 'oauth') throw errors.wrongAuthType();
  return ctx.auth.app;
}

const eventBind: MethodDef = {
  scope: null,
  context: 'app',
  run(ctx, raw) {
    const app = appOf(ctx);
    const p = lowerKeys(raw);
    const event = (toStr(p.event) ?? '').trim().toUpperCase();
    if (!(event in knownEvents)) throw eventNotFound();
    const scope = knownEvents[event];
    if (scope && !app.scopes.includes(scope)) throw eventNotFound();
    const offline = (toStr(p.event_type) ?? 'online').toLowerCase() === 'offline' ? 1 : 0;
    const authType = toInt(p.auth_type);
    const admin = ctx.auth.user.admin;
    if (offline && !admin)
      throw errors.accessDenied('Access denied! Offline events binding requires administrator access rights');
    if (authType > 0 && authType !== ctx.auth.user.id && !admin) {
      throw errors.accessDenied(
        'Access denied! Event binding with AUTH_TYPE requires administrator access rights',
      );
    }
    const handler = (toStr(p.handler) ?? '').trim();
    if (!offline && !/^https?:\/\/[^\s]+$/i.test(handler))
      throw core('Handler is not defined or is not a valid URL');
    const duplicate = ctx.portal.bindings.find(
      (b) =>
        b.appId === app.id &&
        b.event === event &&
        b.handler === handler &&
        b.authType === authType &&
        b.offline === offline,
    );
    if (duplicate) {
      if (ctx.portal.settings.duplicateBindError) throw core('Handler already binded');
      return ok(true);
    }
    const binding: Binding = {
      id: ctx.portal.nextId('binding'),
      appId: app.id,
      event,
      handler,
      authType,
      offline,
    };
    const options = p.options;
    if (event === 'ONOFFLINEEVENT' && isRecord(options ?? null)) {
      const raw = lowerKeys(options as Params).mintimeout;
      if (raw !== undefined) binding.minTimeout = Math.max(0, toInt(raw));
    }
    ctx.portal.bindings.push(binding);
    return ok(true);
  },
};

const eventNotFound = (): RestError => new RestError(400, 'ERROR_EVENT_NOT_FOUND', 'Event not found');

const eventUnbind: MethodDef = {
  scope: null,
  context: 'app',
  run(ctx, raw) {
    const app = appOf(ctx);
    const p = lowerKeys(raw);
    const event = (toStr(p.event) ?? '').trim().toUpperCase();
    const handler = (toStr(p.handler) ?? '').trim();
    const authType = toInt(p.auth_type);
    const offline = (toStr(p.event_type) ?? 'online').toLowerCase() === 'offline' ? 1 : 0;
    const before = ctx.portal.bindings.length;
    ctx.portal.bindings = ctx.portal.bindings.filter(
      (b) =>
        !(
          b.appId === app.id &&
          b.event === event &&
          (offline === 1 || b.handler === handler) &&
          b.authType === authType &&
          b.offline === offline
        ),
    );
    return ok({ count: before - ctx.portal.bindings.length });
  },
};

const eventGet: MethodDef = {
  scope: null,
  context: 'app',
  run(ctx) {
    const app = appOf(ctx);
    return ok(
      ctx.portal.bindings
        .filter((b) => b.appId === app.id)
        .map((b) => ({
          event: b.event,
          handler: b.handler,
          auth_type: String(b.authType),
          offline: b.offline,
        })),
    );
  },
};

const eventTest: MethodDef = {
  scope: null,
  context: 'app',
  run(ctx, raw) {
    const app = appOf(ctx);
    void deliverEvent(
      ctx.portal,
      app,
      'ONAPPTEST',
      { ...raw, auth: undefined },
      { userId: ctx.auth.user.id },
    );
    return ok(true);
  },
};

const events: MethodDef = {
  scope: null,
  run(ctx) {
    const scopes = ctx.auth.scopes;
    return ok(
      Object.keys(knownEvents).filter(
        (e) => scopes === null || knownEvents[e] === null || scopes.includes(knownEvents[e] ?? ''),
      ),
    );
  },
};

const appInfo: MethodDef = {
  scope: null,
  context: 'app',
  run(ctx) {
    const app = appOf(ctx);
    return ok({
      ID: app.id,
      CODE: app.code,
      VERSION: Number(app.version) || app.version,
      STATUS: app.status,
      INSTALLED: app.installed,
      PAYMENT_EXPIRED: 'N',
      DAYS: null,
      LANGUAGE_ID: 'en',
      LICENSE: 'en_project',
      LICENSE_TYPE: 'project',
      LICENSE_FAMILY: 'project',
    });
  },
};

const scope: MethodDef = {
  scope: null,
  run(ctx) {
    return ok(ctx.auth.scopes ?? ['telephony', 'crm', 'user']);
  },
};

export const appMethods: Record<string, MethodDef> = {
  'event.bind': eventBind,
  'event.unbind': eventUnbind,
  'event.get': eventGet,
  'event.test': eventTest,
  events,
  'app.info': appInfo,
  scope,
};
