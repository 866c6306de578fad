import { isRecord, toFlag, toInt, toStr, type Param, type Params } from '../http/params.ts';
import type { User } from '../portal/model.ts';
import type { Portal } from '../portal/portal.ts';
import { ok, type MethodDef } from './types.ts';

export function userFields(portal: Portal, u: User): Record<string, unknown> {
  return {
    ID: String(u.id),
    XML_ID: null,
    ACTIVE: u.active,
    NAME: u.name,
    LAST_NAME: u.lastName,
    SECOND_NAME: '',
    EMAIL: u.email,
    LAST_LOGIN: null,
    // Datetime objects sometimes serialize as {} (spec §1.3); clients must tolerate it.
    TIMESTAMP_X: {},
    IS_ONLINE: u.isOnline ? 'Y' : 'N',
    TIME_ZONE: '',
    TIME_ZONE_OFFSET: String(portal.settings.utcOffsetMinutes * 60),
    PERSONAL_GENDER: '',
    PERSONAL_PHONE: u.personalPhone,
    PERSONAL_MOBILE: u.personalMobile,
    WORK_PHONE: u.workPhone,
    UF_PHONE_INNER: u.extension,
    UF_DEPARTMENT: u.departments,
    USER_TYPE: 'employee',
  };
}

/** A user field's value as filter text: scalars as PHP prints them, anything else empty. */
const text = (v: unknown): string =>
  typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : '';

const OPERATORS = ['!@', '!=', '!%', '>=', '<=', '=%', '%=', '@', '!', '>', '<', '%', '='] as const;

function parseFilterKey(key: string): { op: string; field: string } {
  for (const op of OPERATORS)
    if (key.startsWith(op)) return { op, field: key.slice(op.length).toUpperCase() };
  return { op: '=', field: key.toUpperCase() };
}

const asList = (v: Param): Param[] => (Array.isArray(v) ? v : isRecord(v) ? Object.values(v) : [v]);

function matches(fields: Record<string, unknown>, u: User, key: string, value: Param): boolean {
  const { op, field } = parseFilterKey(key);
  if (field === 'NAME_SEARCH') {
    const needle = (toStr(value) ?? '').toLowerCase();
    return `${u.name} ${u.lastName} ${u.email}`.toLowerCase().includes(needle);
  }
  if (!(field in fields)) return true; // unknown fields do not filter
  const actual = fields[field];
  if (field === 'ACTIVE') {
    const want = toFlag(value, true);
    return op.startsWith('!') ? u.active !== want : u.active === want;
  }
  const actualText = (Array.isArray(actual) ? actual : [actual]).map(text);
  const wanted = asList(value).map((v) => toStr(v) ?? '');
  const eq = (): boolean => wanted.some((w) => actualText.some((a) => a.toLowerCase() === w.toLowerCase()));
  const like = (): boolean =>
    wanted.some((w) => actualText.some((a) => a.toLowerCase().includes(w.replace(/%/g, '').toLowerCase())));
  const cmp = (f: (a: number, b: number) => boolean): boolean =>
    actualText.some((a) => wanted.some((w) => f(Number(a), Number(w))));
  switch (op) {
    case '=':
    case '@':
      return eq();
    case '!':
    case '!=':
    case '!@':
      return !eq();
    case '%':
    case '=%':
    case '%=':
      return like();
    case '!%':
      return !like();
    case '>':
      return cmp((a, b) => a > b);
    case '>=':
      return cmp((a, b) => a >= b);
    case '<':
      return cmp((a, b) => a < b);
    case '<=':
      return cmp((a, b) => a <= b);
    default:
      return true;
  }
}

const userGet: MethodDef = {
  scope: 'user',
  run(ctx, raw) {
    const { portal } = ctx;
    const p: Params = {};
    for (const [k, v] of Object.entries(raw)) p[k.toUpperCase()] = v;
    const filter = isRecord(p.FILTER) ? p.FILTER : {};
    let rows = [...portal.users.values()]
      .map((u) => ({ u, fields: userFields(portal, u) }))
      .filter(({ u, fields }) => Object.entries(filter).every(([k, v]) => matches(fields, u, k, v)));
    const sortField = (toStr(p.SORT) ?? 'ID').toUpperCase();
    const desc = (toStr(p.ORDER) ?? 'ASC').toUpperCase() === 'DESC';
    rows = rows.sort((a, b) => {
      const x = a.fields[sortField];
      const y = b.fields[sortField];
      const c = sortField === 'ID' ? Number(x) - Number(y) : text(x).localeCompare(text(y));
      return desc ? -c : c;
    });
    const select = Array.isArray(p.SELECT) ? p.SELECT.map((v) => (toStr(v) ?? '').toUpperCase()) : null;
    const project = (f: Record<string, unknown>): Record<string, unknown> =>
      !select || select.includes('*')
        ? f
        : Object.fromEntries(Object.entries(f).filter(([k]) => k === 'ID' || select.includes(k)));
    const startRaw = toInt(p.START);
    const start = Math.max(0, startRaw);
    const page = rows.slice(start, start + 50).map((r) => project(r.fields));
    if (startRaw === -1) return { result: page };
    const next = start + 50 < rows.length ? start + 50 : undefined;
    return next === undefined
      ? { result: page, total: rows.length }
      : { result: page, total: rows.length, next };
  },
};

const userCurrent: MethodDef = {
  scope: 'user',
  run(ctx) {
    return ok(userFields(ctx.portal, ctx.auth.user));
  },
};

const profile: MethodDef = {
  scope: null,
  run(ctx) {
    const u = ctx.auth.user;
    return ok({
      ID: String(u.id),
      ADMIN: u.admin,
      NAME: u.name,
      LAST_NAME: u.lastName,
      PERSONAL_GENDER: '',
      PERSONAL_PHOTO: null,
      TIME_ZONE: '',
      TIME_ZONE_OFFSET: ctx.portal.settings.utcOffsetMinutes * 60,
    });
  },
};

/**
 * Whether the calling user may change the portal's settings (cloud: the `bitrix24_config` right;
 * on-premise: the administrators group). Basic scope, any user, no parameters, no errors of its own.
 */
const userAdmin: MethodDef = {
  scope: null,
  run(ctx) {
    return ok(ctx.auth.user.admin);
  },
};

export const userMethods: Record<string, MethodDef> = {
  'user.get': userGet,
  'user.current': userCurrent,
  'user.admin': userAdmin,
  profile,
};
