import { isoWithOffset } from '../http/envelope.ts';
import { isRecord, toInt, toStr, type Params } from '../http/params.ts';
import { RestError } from '../errors.ts';
import type { Activity, CrmEntity, CrmEntityType, Deal } from '../portal/model.ts';
import type { Portal } from '../portal/portal.ts';
import { ok, type MethodDef } from './types.ts';

/** CRM methods answer with an empty `error` code and a text (spec §6.2). */
const crmError = (description: string): RestError => new RestError(400, '', description);

const lowerKeys = (p: Params): Params =>
  Object.fromEntries(Object.entries(p).map(([k, v]) => [k.toLowerCase(), v]));

const s = (v: number | null | undefined): string | null => (v === null || v === undefined ? null : String(v));

function entityFields(portal: Portal, e: CrmEntity): Record<string, unknown> {
  const date = (ms: number): string => isoWithOffset(ms, portal.settings.utcOffsetMinutes);
  const common = {
    ID: String(e.id),
    ASSIGNED_BY_ID: String(e.assignedById),
    OPENED: 'Y',
    HAS_PHONE: e.phones.length > 0 ? 'Y' : 'N',
    PHONE: e.phones.map((p) => ({
      ID: String(p.id),
      VALUE_TYPE: p.valueType,
      VALUE: p.value,
      TYPE_ID: 'PHONE',
    })),
    DATE_CREATE: date(e.createdAt),
    DATE_MODIFY: date(e.modifiedAt),
  };
  if (e.type === 'CONTACT') {
    return {
      ...common,
      NAME: e.name,
      LAST_NAME: e.lastName,
      SECOND_NAME: null,
      COMPANY_ID: s(e.companyId),
      TYPE_ID: 'CLIENT',
    };
  }
  if (e.type === 'COMPANY') return { ...common, TITLE: e.title, COMPANY_TYPE: 'CUSTOMER' };
  return {
    ...common,
    TITLE: e.title,
    NAME: e.name,
    LAST_NAME: e.lastName,
    SECOND_NAME: null,
    STATUS_ID: e.statusId ?? 'NEW',
    STATUS_SEMANTIC_ID: 'P',
    SOURCE_ID: e.sourceId,
    COMPANY_ID: s(e.companyId),
    CONTACT_ID: null,
  };
}

function dealFields(portal: Portal, d: Deal): Record<string, unknown> {
  return {
    ID: String(d.id),
    TITLE: d.title,
    CONTACT_ID: s(d.contactId),
    COMPANY_ID: s(d.companyId),
    ASSIGNED_BY_ID: String(d.assignedById),
    STAGE_ID: d.stageId,
    STAGE_SEMANTIC_ID: d.closed ? 'S' : 'P',
    CLOSED: d.closed ? 'Y' : 'N',
    OPENED: 'Y',
    DATE_CREATE: isoWithOffset(d.createdAt, portal.settings.utcOffsetMinutes),
  };
}

function activityFields(portal: Portal, a: Activity): Record<string, unknown> {
  const date = (ms: number): string => isoWithOffset(ms, portal.settings.utcOffsetMinutes);
  const ownerTypeId = { LEAD: '1', CONTACT: '3', COMPANY: '4' }[a.ownerType];
  return {
    ID: String(a.id),
    OWNER_ID: String(a.ownerId),
    OWNER_TYPE_ID: ownerTypeId,
    TYPE_ID: '2',
    PROVIDER_ID: 'VOXIMPLANT_CALL',
    PROVIDER_TYPE_ID: a.providerTypeId,
    DIRECTION: String(a.direction),
    SUBJECT: a.subject,
    START_TIME: date(a.startTime),
    END_TIME: date(a.endTime),
    COMPLETED: a.completed ? 'Y' : 'N',
    RESPONSIBLE_ID: String(a.responsibleId),
    AUTHOR_ID: String(a.responsibleId),
    ORIGIN_ID: a.originId,
    DESCRIPTION: '',
    SETTINGS: a.missed ? { MISSED_CALL: true } : [],
    BINDINGS: a.bindings.map((b) => ({ OWNER_TYPE_ID: String(b.ownerTypeId), OWNER_ID: String(b.ownerId) })),
    COMMUNICATIONS: [
      { TYPE: 'PHONE', VALUE: a.phoneNumber, ENTITY_ID: String(a.ownerId), ENTITY_TYPE_ID: ownerTypeId },
    ],
    STORAGE_TYPE_ID: '3',
    STORAGE_ELEMENT_IDS: a.storageElementIds.map(String),
    CREATED: date(a.createdAt),
    LAST_UPDATED: date(a.createdAt),
  };
}

function idParam(p: Params): number {
  const id = toInt(p.id);
  if (id <= 0) throw crmError('ID is not defined or invalid');
  return id;
}

function entityGet(type: CrmEntityType): MethodDef {
  return {
    scope: 'crm',
    run(ctx, raw) {
      const e = ctx.portal.crm[type].get(idParam(lowerKeys(raw)));
      if (!e) throw crmError('Not found');
      return ok(entityFields(ctx.portal, e));
    },
  };
}

const dealGet: MethodDef = {
  scope: 'crm',
  run(ctx, raw) {
    const d = ctx.portal.deals.get(idParam(lowerKeys(raw)));
    if (!d) throw crmError('Not found');
    return ok(dealFields(ctx.portal, d));
  },
};

/** A small subset of list filtering: exact match on the listed fields, 50 rows a page. */
function listPage(
  rows: Record<string, unknown>[],
  p: Params,
): { result: unknown; total: number; next?: number } {
  const filter = isRecord(p.filter) ? p.filter : {};
  const matching = rows.filter((row) =>
    Object.entries(filter).every(([k, v]) => {
      const field = k.replace(/^=/, '').toUpperCase();
      const actual = row[field];
      return (typeof actual === 'string' ? actual : '') === (toStr(v) ?? '');
    }),
  );
  const start = Math.max(0, toInt(p.start));
  const page = matching.slice(start, start + 50);
  const next = start + 50 < matching.length ? start + 50 : undefined;
  return next === undefined
    ? { result: page, total: matching.length }
    : { result: page, total: matching.length, next };
}

const dealList: MethodDef = {
  scope: 'crm',
  run(ctx, raw) {
    return listPage(
      [...ctx.portal.deals.values()].map((d) => dealFields(ctx.portal, d)),
      lowerKeys(raw),
    );
  },
};

const activityGet: MethodDef = {
  scope: 'crm',
  run(ctx, raw) {
    const a = ctx.portal.activities.get(idParam(lowerKeys(raw)));
    if (!a) throw crmError('Activity is not found');
    return ok(activityFields(ctx.portal, a));
  },
};

const activityList: MethodDef = {
  scope: 'crm',
  run(ctx, raw) {
    return listPage(
      [...ctx.portal.activities.values()].map((a) => activityFields(ctx.portal, a)),
      lowerKeys(raw),
    );
  },
};

const findByComm: MethodDef = {
  scope: 'crm',
  run(ctx, raw) {
    const p = lowerKeys(raw);
    const type = (toStr(p.type) ?? '').toUpperCase();
    if (type === '')
      throw new RestError(400, 'Communication type is not defined', "Parameter 'type' is required.");
    if (type !== 'PHONE' && type !== 'EMAIL') {
      throw new RestError(
        400,
        `Communication type '${type}' is not supported in current context`,
        'Unsupported type.',
      );
    }
    const values = Array.isArray(p.values) ? p.values : isRecord(p.values) ? Object.values(p.values) : [];
    const texts = values.map((v) => toStr(v) ?? '').filter((v) => v !== '');
    if (texts.length === 0)
      throw new RestError(400, 'Communication values is not defined', "Parameter 'values' is required.");
    if (texts.length > 20)
      throw new RestError(400, 'Too many communication values', 'No more than 20 values are allowed.');
    const wanted = (toStr(p.entity_type) ?? '').toUpperCase();
    const out: Record<string, number[]> = {};
    // Leads first, then contacts, then companies; 20 or more hits of one type stop the search.
    for (const t of ['LEAD', 'CONTACT', 'COMPANY'] as const) {
      if (wanted !== '' && wanted !== t) continue;
      const ids = new Set<number>();
      for (const v of texts) {
        const hits = type === 'PHONE' ? ctx.portal.findByPhone(v, t) : [];
        for (const e of hits) ids.add(e.id);
      }
      if (ids.size > 0) out[t] = [...ids].sort((a, b) => a - b).slice(0, 20);
      if (ids.size >= 20) break;
    }
    return ok(Object.keys(out).length === 0 ? [] : out);
  },
};

export const crmMethods: Record<string, MethodDef> = {
  'crm.duplicate.findbycomm': findByComm,
  'crm.lead.get': entityGet('LEAD'),
  'crm.contact.get': entityGet('CONTACT'),
  'crm.company.get': entityGet('COMPANY'),
  'crm.deal.get': dealGet,
  'crm.deal.list': dealList,
  'crm.activity.get': activityGet,
  'crm.activity.list': activityList,
};
