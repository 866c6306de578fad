import { randomBytes } from 'node:crypto';
import { core, errors } from './errors.ts';
import { isRecord, toFlag, toInt, toStr, type Param, type Params } from './http/params.ts';
import type { App } from './portal/model.ts';
import type { Portal } from './portal/portal.ts';
import { isoWithOffset } from './http/envelope.ts';
import { ok, type CallContext, type MethodDef } from './methods/types.ts';

/** One record of an app's offline queue. */
export interface OfflineEvent {
  id: number;
  appId: number;
  eventName: string;
  data: unknown;
  additional: Record<string, unknown>;
  /** Records about the same object share it; the queue keeps only the latest unreserved one. */
  messageId: string;
  timestamp: number;
  processId: string | null;
  error: boolean;
}

interface OfflineState {
  events: OfflineEvent[];
  nextId: number;
  /** Per app: when ONOFFLINEEVENT was last sent, and whether one waits for minTimeout to pass. */
  notified: Map<number, { at: number; pending: boolean }>;
}

const states = new WeakMap<Portal, OfflineState>();

/** The portal's offline queues; a portal reset (its call log emptied) starts them afresh. */
function stateOf(portal: Portal): OfflineState {
  let s = states.get(portal);
  if (!s) {
    s = { events: [], nextId: 1, notified: new Map() };
    states.set(portal, s);
    portal.once('reset', () => {
      states.delete(portal);
    });
  }
  return s;
}

/** Every record of the portal's queues (inspection and tests). */
export const offlineEvents = (portal: Portal): readonly OfflineEvent[] => stateOf(portal).events;

/** The object an event is about: CRM events collapse per record, others stay distinct. */
function messageIdOf(event: string, data: unknown, id: number): string {
  if (isRecord(data) && isRecord((data as Params).FIELDS ?? null)) {
    const fieldId = toStr(((data as Params).FIELDS as Params).ID);
    if (fieldId) return `${event}:${fieldId}`;
  }
  return `${event}:#${id}`;
}

/**
 * Stores an event for every app that bound it offline, then wakes the app's ONOFFLINEEVENT
 * handler if it has one. Returns whether anything was stored.
 */
export function enqueueOffline(
  portal: Portal,
  app: App,
  event: string,
  data: unknown,
  userId: number | undefined,
  notify: (binding: { handler: string; minTimeout: number }) => void,
): boolean {
  const bound = portal.bindings.some((b) => b.appId === app.id && b.event === event && b.offline === 1);
  if (!bound) return false;
  const s = stateOf(portal);
  const id = s.nextId++;
  const messageId = messageIdOf(event, data, id);
  s.events = s.events.filter(
    (e) => !(e.appId === app.id && e.messageId === messageId && e.processId === null),
  );
  s.events.push({
    id,
    appId: app.id,
    eventName: event,
    data,
    additional: { user_id: String(userId ?? app.installedBy) },
    messageId,
    timestamp: portal.clock.now(),
    processId: null,
    error: false,
  });
  const wake = portal.bindings.find(
    (b) => b.appId === app.id && b.event === 'ONOFFLINEEVENT' && b.offline === 0,
  );
  if (wake) scheduleWake(portal, app.id, { handler: wake.handler, minTimeout: wake.minTimeout ?? 1 }, notify);
  return true;
}

/** At most one ONOFFLINEEVENT per minTimeout seconds: the first at once, later ones grouped. */
function scheduleWake(
  portal: Portal,
  appId: number,
  binding: { handler: string; minTimeout: number },
  notify: (binding: { handler: string; minTimeout: number }) => void,
): void {
  const s = stateOf(portal);
  const last = s.notified.get(appId);
  const now = portal.clock.now();
  const gapMs = binding.minTimeout * 1000;
  if (!last || now - last.at >= gapMs) {
    s.notified.set(appId, { at: now, pending: false });
    notify(binding);
    return;
  }
  if (last.pending) return;
  last.pending = true;
  setTimeout(
    () => {
      if (states.get(portal) !== s) return;
      s.notified.set(appId, { at: portal.clock.now(), pending: false });
      notify(binding);
    },
    Math.max(0, last.at + gapMs - now),
  ).unref();
}

// --- event.offline.* ---

type Field = 'ID' | 'TIMESTAMP_X' | 'EVENT_NAME' | 'MESSAGE_ID' | 'PROCESS_ID' | 'ERROR';

const fieldValue = (e: OfflineEvent, f: Field): string | number => {
  switch (f) {
    case 'ID':
      return e.id;
    case 'TIMESTAMP_X':
      return e.timestamp;
    case 'EVENT_NAME':
      return e.eventName;
    case 'MESSAGE_ID':
      return e.messageId;
    case 'PROCESS_ID':
      return e.processId ?? '';
    case 'ERROR':
      return e.error ? 1 : 0;
  }
};

type Test = (e: OfflineEvent) => boolean;

/** Bitrix-style filter: the operator goes before the field name (`>=ID`, `=EVENT_NAME`, `!ERROR`). */
function filterOf(raw: Param | undefined, allowed: readonly Field[]): Test {
  if (raw === undefined || raw === null || raw === '') return () => true;
  if (!isRecord(raw)) throw core('filter must be an object');
  const tests: Test[] = [];
  for (const [key, value] of Object.entries(raw)) {
    const m = /^(>=|<=|!=|>|<|=|!)?([A-Z_]+)$/i.exec(key.trim());
    const field = m?.[2]?.toUpperCase() as Field | undefined;
    if (!m || !field || !allowed.includes(field)) throw core(`Filter field ${key} is not supported`);
    const op = m[1] ?? '=';
    const values = (Array.isArray(value) ? value : [value]).map((v) => toStr(v) ?? '');
    tests.push((e) => {
      const actual = fieldValue(e, field);
      return values.some((v) => compare(actual, field, op, v));
    });
  }
  return (e) => tests.every((t) => t(e));
}

function compare(actual: string | number, field: Field, op: string, wanted: string): boolean {
  let a: number | string = actual;
  let w: number | string = wanted;
  if (field === 'TIMESTAMP_X') w = Date.parse(wanted);
  else if (typeof actual === 'number') w = toInt(wanted);
  if (field === 'EVENT_NAME') {
    a = String(actual).toUpperCase();
    w = wanted.toUpperCase();
  }
  switch (op) {
    case '=':
      return a === w;
    case '!':
    case '!=':
      return a !== w;
    case '>':
      return a > w;
    case '<':
      return a < w;
    case '>=':
      return a >= w;
    default:
      return a <= w;
  }
}

function orderOf(raw: Param | undefined, fallback: Field, allowed: readonly Field[]) {
  let field: Field = fallback;
  let desc = false;
  if (isRecord(raw ?? null)) {
    const [key, dir] = Object.entries(raw as Params)[0] ?? [];
    if (key) {
      const f = key.toUpperCase() as Field;
      if (!allowed.includes(f)) throw core(`Order field ${key} is not supported`);
      field = f;
      desc = (toStr(dir) ?? 'ASC').toUpperCase() === 'DESC';
    }
  }
  return (a: OfflineEvent, b: OfflineEvent): number => {
    const x = fieldValue(a, field);
    const y = fieldValue(b, field);
    const c = x < y ? -1 : x > y ? 1 : a.id - b.id;
    return desc ? -c : c;
  };
}

const lowerKeys = (p: Params): Params =>
  Object.fromEntries(Object.entries(p).map(([k, v]) => [k.toLowerCase(), v]));

function appOf(ctx: CallContext): App {
  if (ctx.auth.kind !== 'oauth') throw errors.wrongAuthType();
  return ctx.auth.app;
}

const row = (portal: Portal, e: OfflineEvent) => ({
  ID: String(e.id),
  TIMESTAMP_X: isoWithOffset(e.timestamp, portal.settings.utcOffsetMinutes),
  EVENT_NAME: e.eventName,
  EVENT_DATA: e.data ?? false,
  EVENT_ADDITIONAL: e.additional,
  MESSAGE_ID: e.messageId,
});

const getFields: Field[] = ['ID', 'TIMESTAMP_X', 'EVENT_NAME', 'MESSAGE_ID'];
const listFields: Field[] = [...getFields, 'PROCESS_ID', 'ERROR'];

const idList = (v: Param | undefined): string[] =>
  v === undefined || v === null ? [] : (Array.isArray(v) ? v : [v]).map((x) => toStr(x) ?? '');

/**
 * The first records of the app's queue not reserved by another process. `clear=1` (default) takes
 * them out; `clear=0` reserves them for `process_id` (one is made up when absent), so parallel
 * readers each get different records and a process can read its own again.
 */
const offlineGet: MethodDef = {
  scope: null,
  context: 'app',
  run(ctx, raw) {
    const app = appOf(ctx);
    const p = lowerKeys(raw);
    const s = stateOf(ctx.portal);
    const limitRaw = p.limit === undefined ? 50 : toInt(p.limit);
    const limit = Math.min(Math.max(limitRaw, 1), 1000);
    const clear = toFlag(p.clear, true);
    const withErrors = toFlag(p.error, false);
    const given = toStr(p.process_id)?.trim() || null;
    const test = filterOf(p.filter, getFields);
    const picked = s.events
      .filter(
        (e) =>
          e.appId === app.id &&
          (e.processId === null || e.processId === given) &&
          (withErrors || !e.error) &&
          test(e),
      )
      .sort(orderOf(p.order, 'TIMESTAMP_X', getFields))
      .slice(0, limit);
    let processId: string | null = given;
    if (clear) {
      const ids = new Set(picked.map((e) => e.id));
      s.events = s.events.filter((e) => !ids.has(e.id));
    } else {
      processId ??= randomBytes(16).toString('hex');
      for (const e of picked) e.processId = processId;
    }
    return ok({ process_id: processId, events: picked.map((e) => row(ctx.portal, e)) });
  },
};

/** `clear` and `error` act on what one process reserved: it must say which. */
function requiredProcessId(p: Params): string {
  const processId = toStr(p.process_id)?.trim();
  if (!processId) throw core('process_id is required');
  return processId;
}

/** Removes the records a process reserved: all of them, or those given by `id` or `message_id`. */
const offlineClear: MethodDef = {
  scope: null,
  context: 'app',
  run(ctx, raw) {
    const app = appOf(ctx);
    const p = lowerKeys(raw);
    const processId = requiredProcessId(p);
    const ids = idList(p.id);
    const messageIds = idList(p.message_id);
    const s = stateOf(ctx.portal);
    s.events = s.events.filter(
      (e) =>
        !(
          e.appId === app.id &&
          e.processId === processId &&
          (ids.length > 0
            ? ids.includes(String(e.id))
            : messageIds.length === 0 || messageIds.includes(e.messageId))
        ),
    );
    return ok(true);
  },
};

/** Marks records as failed: `get` skips them unless asked with `error=1`; `list` shows them. */
const offlineError: MethodDef = {
  scope: null,
  context: 'app',
  run(ctx, raw) {
    const app = appOf(ctx);
    const p = lowerKeys(raw);
    const processId = requiredProcessId(p);
    const messageIds = idList(p.message_id);
    for (const e of stateOf(ctx.portal).events) {
      if (e.appId === app.id && e.processId === processId && messageIds.includes(e.messageId)) {
        e.error = true;
      }
    }
    return ok(true);
  },
};

const PAGE = 50;

/** Reads the queue without changing it, 50 records a page. */
const offlineList: MethodDef = {
  scope: null,
  context: 'app',
  run(ctx, raw) {
    const app = appOf(ctx);
    const p = lowerKeys(raw);
    const test = filterOf(p.filter, listFields);
    const all = stateOf(ctx.portal)
      .events.filter((e) => e.appId === app.id && test(e))
      .sort(orderOf(p.order, 'ID', listFields));
    const start = Math.max(0, toInt(p.start));
    const page = all.slice(start, start + PAGE).map((e) => ({
      ...row(ctx.portal, e),
      PROCESS_ID: e.processId ?? '',
      ERROR: e.error ? '1' : '0',
    }));
    return {
      result: page,
      total: all.length,
      ...(start + PAGE < all.length ? { next: start + PAGE } : {}),
    };
  },
};

export const offlineMethods: Record<string, MethodDef> = {
  'event.offline.get': offlineGet,
  'event.offline.clear': offlineClear,
  'event.offline.error': offlineError,
  'event.offline.list': offlineList,
};
