/**
 * `crm.{contact,company,lead}.{add,update,delete}`: what a person editing the CRM does, through
 * REST. Every change raises its event (ONCRMCONTACTUPDATE…, `data[FIELDS][ID]` only) to the
 * handlers bound for it, without waiting for them: Bitrix24 queues events apart from the request.
 */
import { RestError } from '../errors.ts';
import { broadcastEvent } from '../events.ts';
import { isRecord, toInt, toStr, type Param, type Params } from '../http/params.ts';
import type { CrmEntity, CrmEntityType, CrmPhone } from '../portal/model.ts';
import type { Portal } from '../portal/portal.ts';
import { ok, type MethodDef } from './types.ts';

const crmError = (description: string): RestError => new RestError(400, '', description);
const lowerKeys = (p: Params): Params =>
  Object.fromEntries(Object.entries(p).map(([k, v]) => [k.toLowerCase(), v]));

const label: Record<CrmEntityType, string> = { CONTACT: 'Contact', COMPANY: 'Company', LEAD: 'Lead' };

function fieldsOf(p: Params): Record<string, Param> {
  const fields = p.fields;
  if (fields === undefined) return {};
  if (!isRecord(fields)) throw crmError("Parameter 'fields' must be array.");
  return Object.fromEntries(Object.entries(fields).map(([k, v]) => [k.toUpperCase(), v]));
}

function idOf(p: Params): number {
  const id = toInt(p.id);
  if (id <= 0) throw crmError('ID is not defined or invalid.');
  return id;
}

/** A multiple field's items: a list, or the object PHP makes of `PHONE[0][VALUE]=…`. */
const items = (v: Param | undefined): Record<string, Param>[] => {
  const list = Array.isArray(v) ? v : isRecord(v) ? Object.values(v) : [];
  return list
    .filter(isRecord)
    .map((i) => Object.fromEntries(Object.entries(i).map(([k, x]) => [k.toUpperCase(), x])));
};

/**
 * PHONE as Bitrix24 applies it (crm_multifield): an item with an ID changes that phone (an empty
 * VALUE or DELETE=Y removes it), an item without one adds a phone; phones not named stay.
 */
function applyPhones(portal: Portal, phones: CrmPhone[], given: Param | undefined): CrmPhone[] {
  const out = phones.map((p) => ({ ...p }));
  for (const item of items(given)) {
    const id = toInt(item.ID);
    const value = (toStr(item.VALUE) ?? '').trim();
    const valueType = toStr(item.VALUE_TYPE) ?? 'WORK';
    const existing = id > 0 ? out.findIndex((p) => p.id === id) : -1;
    if (existing >= 0) {
      const remove = value === '' || (toStr(item.DELETE) ?? '').toUpperCase() === 'Y';
      if (remove) out.splice(existing, 1);
      else out[existing] = { id, value, valueType };
    } else if (value !== '') {
      out.push({ id: portal.nextId('phone'), value, valueType });
    }
  }
  return out;
}

function responsibleOf(portal: Portal, v: Param | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  const id = toInt(v);
  if (!portal.activeUser(id)) throw new RestError(400, 'ERROR_CORE', 'Responsible user is not found');
  return id;
}

const announce = (
  portal: Portal,
  type: CrmEntityType,
  what: 'ADD' | 'UPDATE' | 'DELETE',
  id: number,
  userId: number,
): void => {
  void broadcastEvent(portal, `ONCRM${type}${what}`, { FIELDS: { ID: String(id) } }, { userId });
};

function add(type: CrmEntityType): MethodDef {
  return {
    scope: 'crm',
    run(ctx, raw) {
      const { portal } = ctx;
      const f = fieldsOf(lowerKeys(raw));
      const now = portal.clock.now();
      const entity: CrmEntity = {
        type,
        id: portal.nextId('crm'),
        name: toStr(f.NAME) ?? '',
        lastName: toStr(f.LAST_NAME) ?? '',
        title: toStr(f.TITLE) ?? '',
        phones: applyPhones(portal, [], f.PHONE),
        assignedById: responsibleOf(portal, f.ASSIGNED_BY_ID, ctx.auth.user.id),
        companyId: toInt(f.COMPANY_ID) > 0 ? toInt(f.COMPANY_ID) : null,
        sourceId: type === 'LEAD' ? (toStr(f.SOURCE_ID) ?? 'CALL') : null,
        statusId: type === 'LEAD' ? (toStr(f.STATUS_ID) ?? 'NEW') : null,
        createdAt: now,
        modifiedAt: now,
        createdByCallId: null,
      };
      portal.addEntity(entity);
      announce(portal, type, 'ADD', entity.id, ctx.auth.user.id);
      return ok(entity.id);
    },
  };
}

function update(type: CrmEntityType): MethodDef {
  return {
    scope: 'crm',
    run(ctx, raw) {
      const { portal } = ctx;
      const p = lowerKeys(raw);
      const id = idOf(p);
      const entity = portal.crm[type].get(id);
      if (!entity) throw crmError(`${label[type]} is not found`);
      const f = fieldsOf(p);
      const oldPhones = entity.phones;
      if (f.NAME !== undefined) entity.name = toStr(f.NAME) ?? '';
      if (f.LAST_NAME !== undefined) entity.lastName = toStr(f.LAST_NAME) ?? '';
      if (f.TITLE !== undefined) entity.title = toStr(f.TITLE) ?? '';
      entity.assignedById = responsibleOf(portal, f.ASSIGNED_BY_ID, entity.assignedById);
      if (f.COMPANY_ID !== undefined) entity.companyId = toInt(f.COMPANY_ID) > 0 ? toInt(f.COMPANY_ID) : null;
      if (f.PHONE !== undefined) {
        entity.phones = applyPhones(portal, entity.phones, f.PHONE);
        portal.reindexEntity(entity, oldPhones);
      }
      entity.modifiedAt = portal.clock.now();
      announce(portal, type, 'UPDATE', id, ctx.auth.user.id);
      return ok(true);
    },
  };
}

function remove(type: CrmEntityType): MethodDef {
  return {
    scope: 'crm',
    run(ctx, raw) {
      const { portal } = ctx;
      const id = idOf(lowerKeys(raw));
      const entity = portal.crm[type].get(id);
      if (!entity) throw new RestError(400, 'ERROR_CORE', 'Element not found');
      portal.removeEntity(entity);
      announce(portal, type, 'DELETE', id, ctx.auth.user.id);
      return ok(true);
    },
  };
}

export const crmWriteMethods: Record<string, MethodDef> = {
  'crm.contact.add': add('CONTACT'),
  'crm.contact.update': update('CONTACT'),
  'crm.contact.delete': remove('CONTACT'),
  'crm.company.add': add('COMPANY'),
  'crm.company.update': update('COMPANY'),
  'crm.company.delete': remove('COMPANY'),
  'crm.lead.add': add('LEAD'),
  'crm.lead.update': update('LEAD'),
  'crm.lead.delete': remove('LEAD'),
};
