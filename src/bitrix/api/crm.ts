import { command } from '../methods.ts';
import { bool, dateOrNull, int, intOrNull, ints, list, obj, str, strOrNull, type Json } from '../parse.ts';
import type { Pending } from '../pending.ts';
import type { SubmitOptions } from '../queue.ts';
import type { Submit } from './submit.ts';

/** `crm.{lead,contact,company,deal}.get` and `crm.duplicate.findbycomm` (spec §6.1, §6.2), typed. */

export type CrmKind = 'lead' | 'contact' | 'company' | 'deal';

export interface CrmPhone {
  id: number;
  valueType: string;
  value: string;
}

/** The routing-relevant fields of a lead, contact, company or deal; `raw` has everything else. */
export interface CrmRecord {
  kind: CrmKind;
  id: number;
  assignedById: number | null;
  title: string;
  name: string;
  lastName: string;
  companyId: number | null;
  contactId: number | null;
  /** Lead STATUS_ID or deal STAGE_ID. */
  statusId: string | null;
  /** P in progress, S success, F failure. */
  semanticId: string | null;
  closed: boolean;
  opened: boolean;
  phones: CrmPhone[];
  createdAt: Date | null;
  modifiedAt: Date | null;
  raw: Json;
}

export interface CrmActivity {
  id: number;
  /** Files attached to the activity: a call's recording, once attached. */
  storageElementIds: number[];
  raw: Json;
}

interface Duplicates {
  lead: number[];
  contact: number[];
  company: number[];
}

interface FindByCommParams {
  type: 'PHONE' | 'EMAIL';
  /** Up to 20 values. */
  values: readonly string[];
  entityType?: 'LEAD' | 'CONTACT' | 'COMPANY';
}

function parseRecord(kind: CrmKind, v: unknown): CrmRecord {
  const r = obj(v);
  return {
    kind,
    id: int(r.ID),
    assignedById: intOrNull(r.ASSIGNED_BY_ID),
    title: str(r.TITLE),
    name: str(r.NAME),
    lastName: str(r.LAST_NAME),
    companyId: intOrNull(r.COMPANY_ID),
    contactId: intOrNull(r.CONTACT_ID),
    statusId: strOrNull(r.STATUS_ID ?? r.STAGE_ID),
    semanticId: strOrNull(r.STATUS_SEMANTIC_ID ?? r.STAGE_SEMANTIC_ID),
    closed: bool(r.CLOSED),
    opened: bool(r.OPENED),
    phones: list(r.PHONE).map((p) => {
      const ph = obj(p);
      return { id: int(ph.ID), valueType: str(ph.VALUE_TYPE), value: str(ph.VALUE) };
    }),
    createdAt: dateOrNull(r.DATE_CREATE),
    modifiedAt: dateOrNull(r.DATE_MODIFY),
    raw: r,
  };
}

export class CrmApi {
  constructor(private readonly submit: Submit) {}

  /** The record, or null when the portal says "Not found". */
  get(kind: CrmKind, id: number, options?: SubmitOptions): Pending<CrmRecord | null> {
    return this.submit(
      command(`crm.${kind}.get`, { id }),
      options,
      (raw): CrmRecord | null => parseRecord(kind, raw.result),
      // "Not found" is an answer, not a failure (CRM methods report it with an empty code).
      (e) => {
        if (e.code === 'PORTAL_ERROR' && /^not found$/i.test(e.portalDescription ?? '')) return null;
        throw e;
      },
    );
  }

  getLead(id: number, options?: SubmitOptions): Pending<CrmRecord | null> {
    return this.get('lead', id, options);
  }

  getContact(id: number, options?: SubmitOptions): Pending<CrmRecord | null> {
    return this.get('contact', id, options);
  }

  getCompany(id: number, options?: SubmitOptions): Pending<CrmRecord | null> {
    return this.get('company', id, options);
  }

  getDeal(id: number, options?: SubmitOptions): Pending<CrmRecord | null> {
    return this.get('deal', id, options);
  }

  /**
   * A CRM activity (a call's is created by `finish`) with the files attached to it, or null when
   * the portal has none of that id. Tells whether a call's recording is already attached.
   */
  activity(id: number, options?: SubmitOptions): Pending<CrmActivity | null> {
    return this.submit(
      command('crm.activity.get', { id }),
      options,
      (raw): CrmActivity => {
        const r = obj(raw.result);
        return { id: int(r.ID), storageElementIds: ints(r.STORAGE_ELEMENT_IDS), raw: r };
      },
      (e) => {
        if (e.code === 'PORTAL_ERROR' && /not found/i.test(e.portalDescription ?? '')) return null;
        throw e;
      },
    );
  }

  /** Ids of leads, contacts and companies with this phone or e-mail (`[]` from the portal: none). */
  findByComm(p: FindByCommParams, options?: SubmitOptions): Pending<Duplicates> {
    return this.submit(
      command('crm.duplicate.findbycomm', { type: p.type, values: p.values, entity_type: p.entityType }),
      options,
      (raw) => {
        const r = obj(raw.result);
        return { lead: ints(r.LEAD), contact: ints(r.CONTACT), company: ints(r.COMPANY) };
      },
    );
  }
}
