import { randomBytes } from 'node:crypto';
import { deliverEvent, refused } from './events.ts';
import { encodeForm } from './http/params.ts';
import type { App, Call, DeliveryLogEntry, Line } from './portal/model.ts';
import type { Portal } from './portal/portal.ts';
import { digits, international, stripLetters } from './portal/phone.ts';
import { createCall } from './methods/telephony.ts';

/** A request the inspection API refuses: answered 400/404/409 with this text. */
export class InspectError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'InspectError';
  }
}

export interface InstallRequest {
  clientId?: string;
  clientSecret?: string;
  name?: string;
  code?: string;
  version?: string;
  scopes?: string[] | string;
  /** Where the install callback goes (the app's installation/initial path). */
  installUrl?: string | null;
  /** The installing user (an admin by default). */
  userId?: number;
  /** "auto": installation completes right after the callback; "manual": it waits for install-finish. */
  installFinish?: 'auto' | 'manual';
  /** "page": the UI installer's POST (AUTH_ID, REFRESH_ID…); "event": a script-only app's ONAPPINSTALL-style POST. */
  callback?: 'page' | 'event';
}

/** The answer of POST /_emulator/apps: what an installed app holds. */
export interface AppInstallation {
  id: number;
  clientId: string;
  clientSecret: string;
  installed: boolean;
  memberId: string;
  domain: string;
  clientEndpoint: string;
  serverEndpoint: string;
  applicationToken: string;
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
  installCallback: { status: number | null; error: string | null } | null;
  deliveries: DeliveryLogEntry[];
}

export interface InstallOutcome {
  app: App;
  tokens: { access: string; refresh: string; expiresIn: number };
  callback: { status: number | null; error: string | null } | null;
  deliveries: DeliveryLogEntry[];
}

const alnum = (n: number): string => randomBytes(n).toString('hex').slice(0, n);

export async function installApp(portal: Portal, req: InstallRequest): Promise<InstallOutcome> {
  const userId = req.userId ?? 1;
  const user = portal.activeUser(userId);
  if (!user) throw new InspectError(400, `user ${userId} is not an active user of this portal`);
  const scopes = (
    Array.isArray(req.scopes) ? req.scopes : (req.scopes ?? 'telephony,crm,user').split(/[\s,]+/)
  )
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (req.installUrl != null && !/^https?:\/\/\S+$/i.test(req.installUrl)) {
    throw new InspectError(400, 'installUrl must be an http(s) URL');
  }
  const clientId = req.clientId ?? `local.${alnum(13)}.${String(Date.now()).slice(-8)}`;
  if (portal.appByClientId(clientId))
    throw new InspectError(409, `app ${clientId} is already installed; DELETE it first`);
  const app: App = {
    id: portal.nextId('app'),
    clientId,
    clientSecret: req.clientSecret ?? alnum(32),
    name: req.name ?? 'PBX bridge',
    code: req.code ?? clientId,
    version: req.version ?? '1',
    scopes,
    installUrl: req.installUrl ?? null,
    installedBy: userId,
    installed: false,
    applicationToken: alnum(32),
    status: 'L',
  };
  portal.apps.set(app.id, app);
  const { access, refresh } = portal.issueTokens(app, userId);
  const tokens = { access: access.token, refresh: refresh.token };
  const mode = req.callback ?? 'page';
  if (mode === 'event') app.installed = true; // a script-only app is ready at once
  let callback: InstallOutcome['callback'] = null;
  if (app.installUrl) callback = await postInstallCallback(portal, app, mode, tokens);
  let deliveries: DeliveryLogEntry[] = [];
  if (mode === 'event' || (req.installFinish ?? 'auto') === 'auto')
    deliveries = await completeInstall(portal, app, tokens);
  return {
    app,
    tokens: { ...tokens, expiresIn: portal.settings.accessTokenLifetimeSec },
    callback,
    deliveries,
  };
}

/** The query string Bitrix24 opens an app's page with (spec §5.2). */
function pageQuery(portal: Portal): Record<string, string> {
  return { DOMAIN: portal.domain, PROTOCOL: '0', LANG: 'en', APP_SID: alnum(32) };
}

/**
 * What the portal's frame POSTs to an app's page for the user who opens it (spec §5.2): that user's
 * own token pair, the installation's application token and the portal's id. The installer page of
 * a UI app gets the same, for the administrator installing it.
 */
function pageForm(
  portal: Portal,
  app: App,
  tokens: { access: string; refresh: string },
): Record<string, string> {
  return {
    AUTH_ID: tokens.access,
    AUTH_EXPIRES: String(portal.settings.accessTokenLifetimeSec),
    REFRESH_ID: tokens.refresh,
    SERVER_ENDPOINT: portal.serverEndpoint,
    APPLICATION_TOKEN: app.applicationToken,
    APPLICATION_SCOPE: app.scopes.join(','),
    member_id: portal.settings.memberId,
    status: app.status,
    PLACEMENT: 'DEFAULT',
    PLACEMENT_OPTIONS: '{}',
  };
}

async function postInstallCallback(
  portal: Portal,
  app: App,
  mode: 'page' | 'event',
  tokens: { access: string; refresh: string },
): Promise<{ status: number | null; error: string | null }> {
  const installUrl = app.installUrl ?? '';
  let url = installUrl;
  let body: string;
  if (mode === 'page') {
    const query = new URLSearchParams(pageQuery(portal));
    url = `${installUrl}${installUrl.includes('?') ? '&' : '?'}${query.toString()}`;
    body = encodeForm(pageForm(portal, app, tokens));
  } else {
    body = encodeForm({
      event: 'ONAPPINSTALL',
      data: { VERSION: app.version, ACTIVE: 'Y', INSTALLED: 'Y', LANGUAGE_ID: 'en' },
      ts: String(Math.floor(portal.clock.now() / 1000)),
      auth: authBlock(portal, app, tokens),
    });
  }
  try {
    if (portal.settings.unreachableApp) throw refused();
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body,
      signal: AbortSignal.timeout(portal.settings.eventTimeoutMs),
    });
    await res.body?.cancel();
    return { status: res.status, error: res.ok ? null : `install callback answered HTTP ${res.status}` };
  } catch (e) {
    const err = e as Error & { cause?: { code?: string } };
    return { status: null, error: err.cause?.code ?? err.name };
  }
}

/** What the app's page receives when a user opens it: the query and the POST body. */
export interface AppOpening {
  userId: number;
  admin: boolean;
  query: Record<string, string>;
  form: Record<string, string>;
}

/**
 * A user opens the app in the portal: the frame gets a token pair of that user's own. Until the
 * installer finished, only administrators get the app's page (others see "not fully installed").
 */
export function openApp(portal: Portal, app: App, userId: number): AppOpening {
  const user = portal.activeUser(userId);
  if (!user) throw new InspectError(400, `user ${userId} is not an active user of this portal`);
  if (!app.installed && !user.admin)
    throw new InspectError(
      409,
      'The application is not fully installed yet. Please contact your Bitrix24 administrator to complete the installation.',
    );
  const { access, refresh } = portal.issueTokens(app, user.id);
  return {
    userId: user.id,
    admin: user.admin,
    query: pageQuery(portal),
    form: pageForm(portal, app, { access: access.token, refresh: refresh.token }),
  };
}

function authBlock(
  portal: Portal,
  app: App,
  tokens: { access: string; refresh: string },
): Record<string, string> {
  return {
    access_token: tokens.access,
    expires_in: String(portal.settings.accessTokenLifetimeSec),
    scope: app.scopes.join(','),
    domain: portal.domain,
    server_endpoint: portal.serverEndpoint,
    status: app.status,
    client_endpoint: portal.clientEndpoint,
    member_id: portal.settings.memberId,
    refresh_token: tokens.refresh,
    application_token: app.applicationToken,
  };
}

/** BX24.installFinish(): from now on events flow, starting with ONAPPINSTALL. */
export async function completeInstall(
  portal: Portal,
  app: App,
  tokens?: { access: string; refresh: string },
): Promise<DeliveryLogEntry[]> {
  app.installed = true;
  let pair = tokens;
  if (!pair) {
    const issued = portal.issueTokens(app, app.installedBy);
    pair = { access: issued.access.token, refresh: issued.refresh.token };
  }
  return deliverEvent(
    portal,
    app,
    'ONAPPINSTALL',
    { VERSION: app.version, ACTIVE: 'Y', INSTALLED: 'Y', LANGUAGE_ID: 'en' },
    { tokens: pair },
  );
}

/**
 * Deleting the app: its access to the API goes first (its tokens stop working), then
 * ONAPPUNINSTALL (no tokens in it) is sent, then its lines and handlers are gone. "Even though the
 * event handler will receive authorization data, it can no longer use the API" (the docs).
 */
export async function uninstallApp(portal: Portal, app: App, clean: boolean): Promise<DeliveryLogEntry[]> {
  for (const [k, t] of portal.accessTokens) if (t.appId === app.id) portal.accessTokens.delete(k);
  for (const [k, t] of portal.refreshTokens) if (t.appId === app.id) portal.refreshTokens.delete(k);
  const deliveries = await deliverEvent(
    portal,
    app,
    'ONAPPUNINSTALL',
    { LANGUAGE_ID: 'en', CLEAN: clean ? '1' : '0' },
    { withoutTokens: true },
  );
  portal.bindings = portal.bindings.filter((b) => b.appId !== app.id);
  portal.lines = portal.lines.filter((l) => l.appId !== app.id);
  portal.apps.delete(app.id);
  return deliveries;
}

/** The app that gets an outgoing call: the owner of the named line, else the first app handling the event. */
function routeToApp(
  portal: Portal,
  event: string,
  lineNumber: string | undefined,
): { app: App; line: Line | null } {
  if (lineNumber !== undefined && lineNumber !== '') {
    const line = portal.lines.find((l) => l.number === lineNumber && portal.apps.get(l.appId)?.installed);
    const app = line ? portal.apps.get(line.appId) : undefined;
    if (!line || !app) throw new InspectError(404, `no installed application has the line ${lineNumber}`);
    return { app, line };
  }
  for (const app of portal.apps.values()) {
    if (!app.installed || !portal.bindings.some((b) => b.appId === app.id && b.event === event)) continue;
    return { app, line: portal.linesOf(app.id)[0] ?? null };
  }
  throw new InspectError(409, `no installed application handles ${event}: install one and bind the event`);
}

export interface ClickToCallRequest {
  userId: number;
  phoneNumber: string;
  callListId?: number;
  lineNumber?: string;
  crmEntityType?: string;
  crmEntityId?: number;
  isMobile?: boolean;
}

/**
 * What a click on a phone number in the CRM does: Bitrix24 registers the outgoing call itself (TYPE 1,
 * for the clicking user, CRM auto-creation per the line's CRM_AUTO_CREATE), shows its card, then sends
 * ONEXTERNALCALLSTART to the app owning the line.
 */
export function clickToCall(
  portal: Portal,
  req: ClickToCallRequest,
): { call: Call; delivery: Promise<DeliveryLogEntry[]> } {
  const user = portal.activeUser(req.userId);
  if (!user) throw new InspectError(400, `user ${req.userId} is not an active user of this portal`);
  const [numberPart = '', extension = ''] = req.phoneNumber.split(/[,;#]|ext\.?=?/i);
  const phoneNumber = stripLetters(numberPart);
  if (digits(phoneNumber) === '') throw new InspectError(400, 'phoneNumber must contain digits');
  const { app, line } = routeToApp(portal, 'ONEXTERNALCALLSTART', req.lineNumber);
  const callListId = req.callListId !== undefined && req.callListId > 0 ? req.callListId : null;
  const call = createCall(portal, {
    appId: app.id,
    userId: user.id,
    phoneNumber,
    type: 1,
    lineNumber: line?.number ?? null,
    externalCallId: null,
    startDate: portal.clock.now(),
    callListId,
    crmCreate: (line?.crmAutoCreate ?? 'Y') === 'Y',
    crmSource: 'CALL',
    crmEntity:
      req.crmEntityType && req.crmEntityId
        ? { type: req.crmEntityType.toUpperCase(), id: req.crmEntityId }
        : null,
    show: true,
  });
  const data: Record<string, unknown> = {
    PHONE_NUMBER: phoneNumber,
    PHONE_NUMBER_INTERNATIONAL: international(phoneNumber),
    EXTENSION: extension.replace(/\D/g, ''),
    USER_ID: String(user.id),
    CALL_LIST_ID: String(callListId ?? 0),
    LINE_NUMBER: line?.number ?? '',
    IS_MOBILE: req.isMobile ? '1' : '0',
    CALL_ID: call.callId,
    CRM_ENTITY_TYPE: call.crmEntityType ?? '',
    CRM_ENTITY_ID: call.crmEntityId === null ? '' : String(call.crmEntityId),
  };
  if (call.createdLeadId !== null) {
    data.CRM_CREATED_LEAD = String(call.createdLeadId);
    data.CRM_CREATED_ENTITIES = [{ ENTITY_TYPE: 'LEAD', ENTITY_ID: String(call.createdLeadId) }];
  }
  return { call, delivery: deliverEvent(portal, app, 'ONEXTERNALCALLSTART', data, { userId: user.id }) };
}

export interface CallbackRequest {
  phoneNumber: string;
  text?: string;
  voice?: string;
  lineNumber?: string;
  crmEntityType?: string;
  crmEntityId?: number;
}

/** A website visitor asked for a callback through a CRM form: ONEXTERNALCALLBACKSTART, no CALL_ID. */
export function callbackRequest(portal: Portal, req: CallbackRequest): Promise<DeliveryLogEntry[]> {
  const phoneNumber = stripLetters(req.phoneNumber);
  if (digits(phoneNumber) === '') throw new InspectError(400, 'phoneNumber must contain digits');
  const { app, line } = routeToApp(portal, 'ONEXTERNALCALLBACKSTART', req.lineNumber);
  const entity = req.crmEntityType && req.crmEntityId ? null : portal.primaryEntityFor(phoneNumber);
  return deliverEvent(portal, app, 'ONEXTERNALCALLBACKSTART', {
    PHONE_NUMBER: phoneNumber,
    TEXT: req.text ?? '',
    VOICE: req.voice ?? 'ruinternalfemale',
    CRM_ENTITY_TYPE: req.crmEntityType?.toUpperCase() ?? entity?.type ?? '',
    CRM_ENTITY_ID: String(req.crmEntityId ?? entity?.id ?? ''),
    LINE_NUMBER: line?.number ?? req.lineNumber ?? '',
  });
}
