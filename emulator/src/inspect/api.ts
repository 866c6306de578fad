import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  callbackRequest,
  clickToCall,
  completeInstall,
  InspectError,
  installApp,
  openApp,
  uninstallApp,
  type AppInstallation,
  type CallbackRequest,
  type ClickToCallRequest,
  type InstallRequest,
} from '../apps.ts';
import { RestError } from '../errors.ts';
import { readRaw } from '../http/body.ts';
import { sendJson } from '../http/envelope.ts';
import type { User } from '../portal/model.ts';
import type { Portal } from '../portal/portal.ts';
import type { RestApi } from '../rest.ts';
import { noFaults, plans, type Faults, type Settings, type TargetedFault } from '../settings.ts';
import { appFramePage } from './app-frame.ts';
import { pageHtml } from './page.ts';
import { callView, screens, userView } from './views.ts';

type Json = Record<string, unknown>;

async function readJson(req: IncomingMessage): Promise<Json> {
  let raw: Buffer;
  try {
    raw = await readRaw(req, 1024 * 1024);
  } catch {
    throw new InspectError(413, 'request body too large');
  }
  const text = raw.toString('utf8').trim();
  if (text === '') return {};
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new InspectError(400, 'request body is not valid JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new InspectError(400, 'request body must be a JSON object');
  return body as Json;
}

const optString = (body: Json, key: string): string | undefined => {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  throw new InspectError(400, `${key} must be a string`);
};

const optInt = (body: Json, key: string): number | undefined => {
  const v = body[key];
  if (v === undefined || v === null || v === '') return undefined;
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n)) throw new InspectError(400, `${key} must be an integer`);
  return n;
};

const required = <T>(value: T | undefined, key: string): T => {
  if (value === undefined) throw new InspectError(400, `${key} is required`);
  return value;
};

function clickToCallRequest(body: Json): ClickToCallRequest {
  const out: ClickToCallRequest = {
    userId: required(optInt(body, 'userId'), 'userId'),
    phoneNumber: required(optString(body, 'phoneNumber'), 'phoneNumber'),
    isMobile: body.isMobile === true,
  };
  const callListId = optInt(body, 'callListId');
  if (callListId !== undefined) out.callListId = callListId;
  const lineNumber = optString(body, 'lineNumber');
  if (lineNumber !== undefined) out.lineNumber = lineNumber;
  const crmEntityType = optString(body, 'crmEntityType');
  const crmEntityId = optInt(body, 'crmEntityId');
  if (crmEntityType !== undefined && crmEntityId !== undefined) {
    out.crmEntityType = crmEntityType;
    out.crmEntityId = crmEntityId;
  }
  return out;
}

function callbackRequestOf(body: Json): CallbackRequest {
  const out: CallbackRequest = { phoneNumber: required(optString(body, 'phoneNumber'), 'phoneNumber') };
  for (const key of ['text', 'voice', 'lineNumber', 'crmEntityType'] as const) {
    const v = optString(body, key);
    if (v !== undefined) out[key] = v;
  }
  const crmEntityId = optInt(body, 'crmEntityId');
  if (crmEntityId !== undefined) out.crmEntityId = crmEntityId;
  return out;
}

function installRequest(body: Json): InstallRequest {
  const out: InstallRequest = {};
  for (const key of ['clientId', 'clientSecret', 'name', 'code', 'version', 'installUrl'] as const) {
    const v = optString(body, key);
    if (v !== undefined) out[key] = v;
  }
  const scopes = body.scopes;
  if (Array.isArray(scopes) && scopes.every((s) => typeof s === 'string')) out.scopes = scopes;
  else if (typeof scopes === 'string') out.scopes = scopes;
  else if (scopes !== undefined)
    throw new InspectError(400, 'scopes must be a list or a comma-separated string');
  const userId = optInt(body, 'userId');
  if (userId !== undefined) out.userId = userId;
  const finish = body.installFinish;
  if (finish === 'auto' || finish === 'manual') out.installFinish = finish;
  else if (finish !== undefined) throw new InspectError(400, 'installFinish must be "auto" or "manual"');
  const callback = body.callback;
  if (callback === 'page' || callback === 'event') out.callback = callback;
  else if (callback !== undefined) throw new InspectError(400, 'callback must be "page" or "event"');
  return out;
}

const num = (v: unknown, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number => {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
    throw new InspectError(400, `${name} must be a number from ${min} to ${max}`);
  }
  return v;
};

function rateLimitOf(v: unknown, name: string): { rate: number; burst: number } {
  if (typeof v === 'string' && v in plans) return { ...plans[v as keyof typeof plans] };
  if (typeof v !== 'object' || v === null)
    throw new InspectError(400, `${name} must be {rate, burst} or "standard"/"enterprise"`);
  const r = v as Json;
  return { rate: num(r.rate, `${name}.rate`, 0.001), burst: num(r.burst, `${name}.burst`, 1) };
}

function targetedFaults(v: unknown): TargetedFault[] {
  if (!Array.isArray(v)) throw new InspectError(400, 'next must be a list of {kind, method?, count}');
  return v.map((item: unknown, i) => {
    const r = (typeof item === 'object' && item !== null ? item : {}) as Json;
    if (r.kind !== 'error' && r.kind !== 'lostReply')
      throw new InspectError(400, `next[${i}].kind must be "error" or "lostReply"`);
    if (r.method !== undefined && typeof r.method !== 'string')
      throw new InspectError(400, `next[${i}].method must be a string`);
    const count = r.count === undefined ? 1 : num(r.count, `next[${i}].count`, 1, 1_000_000);
    return {
      kind: r.kind,
      count,
      ...(typeof r.method === 'string' ? { method: r.method.toLowerCase() } : {}),
    };
  });
}

function applyFaults(portal: Portal, body: Json): Faults {
  const f = portal.faults;
  if ('outage' in body) {
    if (body.outage !== null && body.outage !== 'refuse' && body.outage !== '503') {
      throw new InspectError(400, 'outage must be "refuse", "503" or null');
    }
    f.outage = body.outage;
  }
  if ('latencyMs' in body) f.latencyMs = num(body.latencyMs, 'latencyMs', 0, 120_000);
  if ('errorRate' in body) f.errorRate = num(body.errorRate, 'errorRate', 0, 1);
  if ('lostReplyRate' in body) f.lostReplyRate = num(body.lostReplyRate, 'lostReplyRate', 0, 1);
  if ('next' in body) f.next = targetedFaults(body.next);
  if ('processingSec' in body) f.processingSec = num(body.processingSec, 'processingSec', 0, 60);
  if ('rateLimit' in body)
    f.rateLimit = body.rateLimit === null ? null : rateLimitOf(body.rateLimit, 'rateLimit');
  if ('expireTokens' in body) {
    const v = body.expireTokens;
    if (v === true) {
      // One shot: every token issued so far is expired; new ones live normally.
      portal.expireAllTokens();
      f.expireTokens = false;
    } else if (v === false || v === null) {
      f.expireTokens = false;
    } else {
      f.expireTokens = num(v, 'expireTokens', 1);
    }
  }
  return f;
}

const settingChecks: { [K in keyof Settings]?: (v: unknown) => boolean } = {
  webhookTelephony: (v) => v === 'reject' || v === 'allow',
  oldAccessTokenAfterRefresh: (v) => v === 'valid' || v === 'revoked',
  oldRefreshTokenAfterRefresh: (v) => v === 'valid' || v === 'revoked',
  // A link on the page: never javascript: or the like.
  callLinkTemplate: (v) => v === null || (typeof v === 'string' && /^https?:\/\/[^\s"'<>]+$/.test(v)),
};

function applySettings(portal: Portal, body: Json): Settings {
  const s = portal.settings as unknown as Json;
  for (const [key, value] of Object.entries(body)) {
    if (!(key in s)) throw new InspectError(400, `unknown setting ${key}`);
    if (key === 'rateLimit') {
      portal.settings.rateLimit = rateLimitOf(value, 'rateLimit');
      continue;
    }
    const current = s[key];
    const check = settingChecks[key as keyof Settings];
    const sameType =
      current === null || key === 'callLinkTemplate'
        ? typeof value === 'string' || value === null
        : typeof value === typeof current;
    if (!sameType || (check && !check(value)))
      throw new InspectError(400, `setting ${key} has a wrong value`);
    s[key] = value;
  }
  return portal.settings;
}

const timemanStatuses = ['OPENED', 'CLOSED', 'PAUSED', 'EXPIRED', 'UNAVAILABLE', 'NOT_INSTALLED'] as const;

/** What a person changes about themselves in the portal: their workday (time tracking), their phone. */
function applyUser(user: User, body: Json): User {
  if ('timemanStatus' in body) {
    const status = body.timemanStatus;
    if (typeof status !== 'string' || !(timemanStatuses as readonly string[]).includes(status))
      throw new InspectError(400, `timemanStatus must be one of ${timemanStatuses.join(', ')}`);
    user.timemanStatus = status as User['timemanStatus'];
  }
  if ('extension' in body) {
    const ext = body.extension;
    if (ext !== null && (typeof ext !== 'string' || !/^[0-9*#]{1,32}$/.test(ext)))
      throw new InspectError(400, 'extension must be digits, or null');
    user.extension = ext;
  }
  return user;
}

/** The inspection and control API under /_emulator/ (not part of Bitrix24). */
export async function handleInspect(
  portal: Portal,
  rest: RestApi,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  reset: () => void,
): Promise<void> {
  const path = url.pathname.replace(/\/+$/, '') || '/';
  const route = `${req.method ?? 'GET'} ${path}`;
  const appMatch = /^\/_emulator\/apps\/([^/]+)(\/install-finish|\/open|\/page)?$/.exec(path);
  const userMatch = /^\/_emulator\/users\/(\d+)$/.exec(path);
  try {
    switch (route) {
      case 'GET /_emulator':
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(pageHtml);
        return;
      case 'GET /_emulator/stream':
        return stream(portal, req, res);
      case 'GET /_emulator/cards':
        return sendJson(
          res,
          200,
          [...portal.cards.values()].map((c) => ({
            userId: c.userId,
            callId: c.callId,
            phoneNumber: c.phoneNumber,
          })),
        );
      case 'GET /_emulator/card-log':
        return sendJson(res, 200, portal.cardLog.slice(Number(url.searchParams.get('since') ?? 0) || 0));
      case 'GET /_emulator/calls': {
        const externalCallId = url.searchParams.get('externalCallId');
        const calls = [...portal.calls.values()].filter(
          (c) => externalCallId === null || c.externalCallId === externalCallId,
        );
        return sendJson(
          res,
          200,
          calls.map((c) => callView(portal, c)),
        );
      }
      case 'GET /_emulator/recordings':
        // Every recording attached to a call, with the URL it was downloaded from (null: uploaded).
        return sendJson(
          res,
          200,
          [...portal.calls.values()].flatMap((c) =>
            c.recordings.map((r) => ({
              callId: c.callId,
              externalCallId: c.externalCallId,
              fileId: r.fileId,
              filename: r.filename,
              sha256: r.sha256,
              sourceUrl: r.sourceUrl,
            })),
          ),
        );
      case 'GET /_emulator/requests':
        return sendJson(res, 200, portal.requestLog.slice(Number(url.searchParams.get('since') ?? 0) || 0));
      case 'GET /_emulator/deliveries':
        return sendJson(res, 200, portal.deliveryLog);
      case 'GET /_emulator/users':
        return sendJson(res, 200, [...portal.users.values()].map(userView));
      case 'GET /_emulator/screens':
        return sendJson(res, 200, screens(portal));
      case 'GET /_emulator/crm':
        return sendJson(res, 200, {
          contacts: [...portal.crm.CONTACT.values()],
          companies: [...portal.crm.COMPANY.values()],
          leads: [...portal.crm.LEAD.values()],
          deals: [...portal.deals.values()],
          activities: [...portal.activities.values()],
        });
      case 'GET /_emulator/lines':
        return sendJson(res, 200, portal.lines);
      case 'GET /_emulator/limits': {
        const limit = portal.faults.rateLimit ?? portal.settings.rateLimit;
        return sendJson(res, 200, {
          ...limit,
          level: rest.bucket.current(portal.clock.now(), limit.rate),
          peak: rest.bucket.peak,
        });
      }
      case 'GET /_emulator/faults':
        return sendJson(res, 200, portal.faults);
      case 'POST /_emulator/faults':
        return sendJson(res, 200, applyFaults(portal, await readJson(req)));
      case 'DELETE /_emulator/faults':
        portal.faults = noFaults();
        return sendJson(res, 200, portal.faults);
      case 'GET /_emulator/settings':
        return sendJson(res, 200, portal.settings);
      case 'POST /_emulator/settings':
        return sendJson(res, 200, applySettings(portal, await readJson(req)));
      case 'POST /_emulator/clock': {
        const body = await readJson(req);
        portal.clock.advance(num(body.advanceSec, 'advanceSec', 0, 10 * 365 * 86400) * 1000);
        return sendJson(res, 200, {
          now: new Date(portal.clock.now()).toISOString(),
          offsetMs: portal.clock.offset,
        });
      }
      case 'POST /_emulator/click-to-call': {
        const body = await readJson(req);
        const { call, delivery } = clickToCall(portal, clickToCallRequest(body));
        const deliveries =
          body.wait === true || url.searchParams.get('wait') === '1' ? await delivery : undefined;
        return sendJson(res, 200, {
          callId: call.callId,
          CALL_ID: call.callId,
          ...(deliveries ? { deliveries } : {}),
        });
      }
      case 'POST /_emulator/callback': {
        const deliveries = await callbackRequest(portal, callbackRequestOf(await readJson(req)));
        return sendJson(res, 200, { deliveries });
      }
      case 'GET /_emulator/apps':
        return sendJson(
          res,
          200,
          [...portal.apps.values()].map((a) => ({
            id: a.id,
            clientId: a.clientId,
            name: a.name,
            scopes: a.scopes,
            installed: a.installed,
            installUrl: a.installUrl,
            lines: portal.linesOf(a.id).map((l) => l.number),
            handlers: portal.bindings
              .filter((b) => b.appId === a.id)
              .map((b) => ({ event: b.event, handler: b.handler })),
          })),
        );
      case 'POST /_emulator/apps': {
        const out = await installApp(portal, installRequest(await readJson(req)));
        const installation: AppInstallation = {
          id: out.app.id,
          clientId: out.app.clientId,
          clientSecret: out.app.clientSecret,
          installed: out.app.installed,
          memberId: portal.settings.memberId,
          domain: portal.domain,
          clientEndpoint: portal.clientEndpoint,
          serverEndpoint: portal.serverEndpoint,
          applicationToken: out.app.applicationToken,
          accessToken: out.tokens.access,
          refreshToken: out.tokens.refresh,
          expiresIn: out.tokens.expiresIn,
          installCallback: out.callback,
          deliveries: out.deliveries,
        };
        return sendJson(res, 201, installation);
      }
      case 'POST /_emulator/reset':
        reset();
        return sendJson(res, 200, { reset: true });
    }
    if (userMatch && req.method === 'POST') {
      const user = portal.users.get(Number(userMatch[1]));
      if (!user) throw new InspectError(404, 'no such user');
      return sendJson(res, 200, userView(applyUser(user, await readJson(req))));
    }
    if (appMatch) {
      const app = portal.appByClientId(decodeURIComponent(appMatch[1] ?? ''));
      if (!app) throw new InspectError(404, 'no such app');
      if (req.method === 'POST' && appMatch[2] === '/install-finish')
        return sendJson(res, 200, { deliveries: await completeInstall(portal, app) });
      if (req.method === 'POST' && appMatch[2] === '/open') {
        const userId = optInt(await readJson(req), 'userId');
        return sendJson(res, 200, openApp(portal, app, required(userId, 'userId')));
      }
      if (req.method === 'GET' && appMatch[2] === '/page') {
        // The portal page a user opens the app on: the app in its frame, for a real browser.
        const userId = Number(url.searchParams.get('userId') ?? String(app.installedBy));
        if (!Number.isInteger(userId)) throw new InspectError(400, 'userId must be a user id');
        if (app.installUrl === null) throw new InspectError(409, 'the app has no page (no installUrl)');
        const html = appFramePage(portal, app, openApp(portal, app, userId));
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
        res.end(html);
        return;
      }
      if (req.method === 'DELETE' && !appMatch[2]) {
        const deliveries = await uninstallApp(portal, app, url.searchParams.get('clean') === '1');
        return sendJson(res, 200, { deliveries });
      }
    }
    throw new InspectError(404, `no route ${route}`);
  } catch (e) {
    if (e instanceof InspectError)
      return sendJson(res, e.status, { error: 'EMULATOR_REQUEST', error_description: e.message });
    if (e instanceof RestError)
      return sendJson(res, e.status, { error: e.error, error_description: e.description });
    console.error('b24-emulator: internal error in the inspection API:', e);
    sendJson(res, 500, { error: 'INTERNAL_SERVER_ERROR', error_description: 'Internal server error' });
  }
}

/** Server-sent events for the live page: a fresh snapshot after every card or call change. */
function stream(portal: Portal, req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
  });
  let pending: NodeJS.Timeout | null = null;
  const send = (): void => {
    pending = null;
    res.write(`event: screens\ndata: ${JSON.stringify(screens(portal))}\n\n`);
  };
  const schedule = (): void => {
    // Bursts of card changes become one frame every 100 ms.
    pending ??= setTimeout(send, 100);
  };
  const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
  portal.on('card', schedule);
  portal.on('call', schedule);
  send();
  req.on('close', () => {
    portal.off('card', schedule);
    portal.off('call', schedule);
    clearInterval(keepAlive);
    if (pending) clearTimeout(pending);
  });
}
