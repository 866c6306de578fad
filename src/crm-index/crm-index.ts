/**
 * A portal's CRM phone index: caller number → CRM record → responsible manager, so that a known
 * caller is routed to their manager without waiting for the portal, however slowly it answers.
 *
 * Filled from every `telephony.externalCall.searchCrmEntities` answer the bridge gets (the lookups
 * of calls, see `learnFrom`), kept fresh by the portal's CRM change events (a record added,
 * changed or deleted: its numbers are asked again), and by a reconcile that asks again, a batch at
 * a time, about the numbers confirmed longest ago: one request per `reconcileSec`, in the lowest
 * lane, so it never takes more than a sliver of the portal's rate budget.
 */
import { EventEmitter } from 'node:events';
import type { CrmKind, CrmMatch, CrmRecord, Pending, SubmitOptions } from '../bitrix/index.ts';
import type { KnownCaller } from '../core/index.ts';
import type { CallerIndex, CallerRecord } from '../store/index.ts';
import { phoneKey } from './phone.ts';

/** What the index asks of the portal. */
interface CrmIndexApi {
  readonly externalCall: {
    searchCrmEntities(phoneNumber: string, o?: SubmitOptions): Pending<CrmMatch[]>;
  };
  readonly crm: { get(kind: CrmKind, id: number, o?: SubmitOptions): Pending<CrmRecord | null> };
}

interface CrmIndexSettings {
  /** How often one batch of the oldest numbers is confirmed; 0: never. */
  reconcileSec: number;
  /** A number confirmed longer ago than this is due for the reconcile. */
  maxAgeSec: number;
  /** A manager's TIMEMAN_STATUS older than this is not gone by (their workday may have changed). */
  workdayTrustSec: number;
}

const defaultCrmIndexSettings: CrmIndexSettings = {
  reconcileSec: 10,
  maxAgeSec: 86_400,
  workdayTrustSec: 600,
};

type CrmRecordType = 'CONTACT' | 'COMPANY' | 'LEAD';

interface CrmIndexEvents {
  /** The index took in what the portal said of these numbers (added, changed or removed). */
  updated: [{ phones: string[]; reason: 'lookup' | 'change' | 'reconcile' }];
  /** Background work failed (the portal, the store); it is tried again by the next reconcile. */
  fault: [{ where: string; error: unknown }];
}

interface CrmIndexOptions {
  portalId: string;
  store: CallerIndex;
  api: CrmIndexApi;
  settings?: Partial<CrmIndexSettings> | undefined;
  now?: (() => number) | undefined;
}

/** At most this many numbers per reconcile: one `batch` request carries 50 commands. */
const BATCH = 50;
const read: SubmitOptions = { lane: 'read' };
const kinds: Readonly<Record<CrmRecordType, CrmKind>> = {
  CONTACT: 'contact',
  COMPANY: 'company',
  LEAD: 'lead',
};
/** Which of a number's records routes it: a contact before a company before a lead, as a register binds. */
const precedence: readonly CrmRecordType[] = ['CONTACT', 'COMPANY', 'LEAD'];

/** The record a number's callers belong to, of the portal's answer; null when it names none. */
function primaryMatch(matches: readonly CrmMatch[]): CrmMatch | null {
  for (const type of precedence) {
    const hit = matches.find((m) => m.entityType === type && m.assignedById > 0);
    if (hit) return hit;
  }
  return null;
}

export class CrmPhoneIndex extends EventEmitter<CrmIndexEvents> {
  readonly settings: CrmIndexSettings;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | null = null;
  private reconciling: Promise<number> | null = null;
  /** Numbers being asked about now: a second ask joins the first. */
  private readonly asking = new Map<string, Promise<void>>();
  private closed = false;

  constructor(private readonly o: CrmIndexOptions) {
    super();
    this.settings = { ...defaultCrmIndexSettings, ...(o.settings ?? {}) };
    this.now = o.now ?? Date.now;
  }

  /** Starts the periodic reconcile. */
  start(): void {
    if (this.closed || this.timer !== null || this.settings.reconcileSec <= 0) return;
    this.timer = setInterval(() => {
      this.reconcile().catch((error: unknown) => this.fault('reconcile', error));
    }, this.settings.reconcileSec * 1000);
    this.timer.unref();
  }

  close(): void {
    this.closed = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /**
   * What the index knows of a caller, for the engine: the record and its manager, and the manager's
   * workday when it was told recently. A number told long ago is asked about again meanwhile.
   */
  async lookup(phone: string): Promise<KnownCaller | undefined> {
    const key = phoneKey(phone);
    if (key === null) return undefined;
    const record = await this.o.store.get(this.o.portalId, key);
    if (!record) return undefined;
    const age = this.now() - record.verifiedAt;
    const fresh = age <= this.settings.workdayTrustSec * 1000;
    if (!fresh && !this.closed)
      this.ask([key], 'lookup').catch((error: unknown) => this.fault('lookup', error));
    return {
      crmEntityType: record.entityType,
      crmEntityId: record.entityId,
      userId: record.responsibleId,
      timemanStatus: fresh ? record.timemanStatus : null,
    };
  }

  /** What the portal answered to `searchCrmEntities(phone)`, whoever asked: the number's truth now. */
  async learn(
    phone: string,
    matches: readonly CrmMatch[],
    reason: 'lookup' | 'change' | 'reconcile' = 'lookup',
  ): Promise<void> {
    const key = phoneKey(phone);
    if (key === null) return;
    const hit = primaryMatch(matches);
    if (hit === null || hit.entityType === null) {
      await this.o.store.remove(this.o.portalId, [key]);
    } else {
      const record: CallerRecord = {
        phone: key,
        entityType: hit.entityType,
        entityId: hit.entityId,
        responsibleId: hit.assignedById,
        timemanStatus: hit.assignedBy.timemanStatus === '' ? null : hit.assignedBy.timemanStatus,
        verifiedAt: this.now(),
      };
      await this.o.store.put(this.o.portalId, [record]);
    }
    this.emit('updated', { phones: [key], reason });
  }

  /**
   * A CRM change event: the record was added, changed or deleted. Its numbers now, and the numbers
   * the index had for it, are asked about again: a number may have moved to another record.
   */
  async changed(type: CrmRecordType, id: number, deleted: boolean): Promise<void> {
    const phones = new Set((await this.o.store.ofEntity(this.o.portalId, type, id)).map((r) => r.phone));
    if (!deleted) {
      const record = await this.o.api.crm.get(kinds[type], id, read);
      for (const p of record?.phones ?? []) {
        const key = phoneKey(p.value);
        if (key !== null) phones.add(key);
      }
    }
    await this.ask([...phones], 'change');
  }

  /** One reconcile: the numbers confirmed longest ago (a batch at most) are asked about again. */
  reconcile(): Promise<number> {
    this.reconciling ??= (async () => {
      const due = this.now() - this.settings.maxAgeSec * 1000;
      const stale = await this.o.store.oldest(this.o.portalId, due, BATCH);
      await this.ask(
        stale.map((r) => r.phone),
        'reconcile',
      );
      return stale.length;
    })().finally(() => {
      this.reconciling = null;
    });
    return this.reconciling;
  }

  /** Asks the portal about these numbers, all at once (the client sends them as one batch). */
  private async ask(phones: readonly string[], reason: 'lookup' | 'change' | 'reconcile'): Promise<void> {
    await Promise.all(
      phones.map((phone) => {
        const known = this.asking.get(phone);
        if (known) return known;
        const asked = Promise.resolve(this.o.api.externalCall.searchCrmEntities(phone, read))
          .then((matches) => this.learn(phone, matches, reason))
          .finally(() => this.asking.delete(phone));
        this.asking.set(phone, asked);
        return asked;
      }),
    );
  }

  private fault(where: string, error: unknown): void {
    if (this.listenerCount('fault') > 0) this.emit('fault', { where, error });
  }
}

/**
 * The API the outbox is given, with every `searchCrmEntities` answer (the lookups of calls)
 * handed to the index as well.
 */
export function learnFrom<A extends { externalCall: CrmIndexApi['externalCall'] }>(
  api: A,
  index: CrmPhoneIndex,
): A {
  const search = api.externalCall.searchCrmEntities.bind(api.externalCall);
  const externalCall = Object.create(api.externalCall, {
    searchCrmEntities: {
      value: (phoneNumber: string, o?: SubmitOptions): Pending<CrmMatch[]> => {
        const pending = search(phoneNumber, o);
        pending.then(
          (matches) => index.learn(phoneNumber, matches).catch(() => undefined),
          () => undefined,
        );
        return pending;
      },
    },
  }) as A['externalCall'];
  return Object.assign(Object.create(api) as A, { externalCall });
}
