import { Ref } from '../encode.ts';
import { BitrixError } from '../errors.ts';
import { alreadyFinished, command, uploadCommand } from '../methods.ts';
import { badShape, dateOrNull, int, intOrNull, isoDate, list, num, obj, str, strOrNull } from '../parse.ts';
import { Pending } from '../pending.ts';
import type { SubmitOptions } from '../queue.ts';
import type { Submit } from './submit.ts';

/** `telephony.externalCall.*` and `telephony.externalLine.*` (spec §2), typed. */

export type CallType = 'outgoing' | 'incoming' | 'redirected' | 'callback' | 'info';
const callTypeCode: Readonly<Record<CallType, number>> = {
  outgoing: 1,
  incoming: 2,
  redirected: 3,
  callback: 4,
  info: 5,
};
const callTypeOf = (code: unknown): CallType | null =>
  (Object.keys(callTypeCode) as CallType[]).find((k) => callTypeCode[k] === intOrNull(code)) ?? null;

export type CrmEntityType = 'CONTACT' | 'COMPANY' | 'LEAD';
const crmType = (v: unknown): CrmEntityType | null => {
  const s = str(v).toUpperCase();
  return s === 'CONTACT' || s === 'COMPANY' || s === 'LEAD' ? s : null;
};

/**
 * A call's CALL_ID: known, a reference to another operation's result, or the register that will
 * produce it (queued in the same batch or earlier).
 */
export type CallIdInput = string | Ref<string> | Pending<RegisteredCall>;

const callIdParam = (c: CallIdInput): string | Ref<string> =>
  c instanceof Pending ? c.ref<string>('CALL_ID') : c;

const flag = (v: boolean | undefined): number | undefined => (v === undefined ? undefined : v ? 1 : 0);

export interface RegisterParams {
  /** The Bitrix user the call belongs to (the card is shown to them); or `userPhoneInner`. */
  userId?: number;
  userPhoneInner?: string;
  phoneNumber: string;
  type: CallType;
  /**
   * The PBX's own id of this call, unique per call. Required: it is what makes a repeated register
   * safe (the portal answers with the same CALL_ID) and keeps two calls from merging.
   */
  externalCallId: string;
  callStartDate?: Date | string;
  /** Create a lead when nothing in the CRM matches the number. */
  crmCreate?: boolean;
  crmSource?: string;
  /** Bind the call to this entity instead of searching by number. */
  crmEntity?: { type: CrmEntityType; id: number };
  /** Show the card to `userId` right away (default true): decides the card or log lane. */
  show?: boolean;
  addToChat?: boolean;
  callListId?: number;
  lineNumber?: string;
}

export interface RegisteredCall {
  callId: string;
  crmCreatedLead: number | null;
  crmCreatedEntities: { entityType: string; entityId: number }[];
  crmEntityType: CrmEntityType | null;
  crmEntityId: number | null;
  leadCreationError: string | undefined;
}

export interface CardParams {
  callId: CallIdInput;
  /** One user or several; default: the call's registered user. */
  userIds?: number | readonly number[];
}

export type FinishStatusCode =
  '200' | '304' | '603' | '603-S' | '403' | '404' | '486' | '484' | '503' | '480' | '402' | '423' | 'OTHER';

export interface FinishParams {
  callId: CallIdInput;
  userId?: number;
  userPhoneInner?: string;
  /** Talk time in seconds. */
  duration?: number;
  cost?: number;
  costCurrency?: string;
  statusCode?: FinishStatusCode;
  failedReason?: string;
  /** Deprecated by Bitrix24 in favour of attachRecord. */
  recordUrl?: string;
  vote?: number;
  addToChat?: boolean;
}

/** The statistics record `finish` returns. */
export interface CallRecord {
  id: number;
  callId: string;
  externalCallId: string | null;
  portalUserId: number;
  phoneNumber: string;
  portalNumber: string;
  type: CallType | null;
  duration: number;
  /** Often serialized as `{}` by the portal: then null. */
  startDate: Date | null;
  /** A conversation took place (DURATION > 0). */
  talked: boolean;
  vote: number;
  cost: number;
  costCurrency: string;
  failedCode: string;
  failedReason: string;
  crmActivityId: number | null;
  crmEntityType: CrmEntityType | null;
  crmEntityId: number | null;
  errors: Record<string, string>;
}

/**
 * `finish` either finished the call now, or a repeat found it already finished by an earlier try
 * whose answer was lost (the call ended exactly once either way).
 */
export type FinishOutcome = { status: 'finished'; record: CallRecord } | { status: 'already-finished' };

export interface RecordUrlParams {
  callId: CallIdInput;
  recordUrl: string;
  filename?: string;
}

export interface RecordFileParams {
  callId: CallIdInput;
  /** `.mp3` or `.wav`. */
  filename: string;
  content: Uint8Array;
}

export interface AttachedRecord {
  fileId: number;
}

export interface CrmMatch {
  entityType: CrmEntityType | null;
  entityId: number;
  name: string;
  assignedById: number;
  assignedBy: {
    id: number;
    timemanStatus: string;
    userPhoneInner: string | null;
    workPhone: string | null;
    personalPhone: string | null;
    personalMobile: string | null;
  };
}

const M = {
  register: 'telephony.externalCall.register',
  show: 'telephony.externalCall.show',
  hide: 'telephony.externalCall.hide',
  finish: 'telephony.externalCall.finish',
  attachRecord: 'telephony.externalCall.attachRecord',
  search: 'telephony.externalCall.searchCrmEntities',
  lineAdd: 'telephony.externalLine.add',
  lineUpdate: 'telephony.externalLine.update',
  lineDelete: 'telephony.externalLine.delete',
  lineGet: 'telephony.externalLine.get',
} as const;

function parseRegistered(v: unknown): RegisteredCall {
  const r = obj(v);
  const callId = str(r.CALL_ID);
  if (callId === '') throw badShape(M.register, 'no CALL_ID');
  return {
    callId,
    crmCreatedLead: intOrNull(r.CRM_CREATED_LEAD),
    crmCreatedEntities: list(r.CRM_CREATED_ENTITIES).map((e) => ({
      entityType: str(obj(e).ENTITY_TYPE),
      entityId: int(obj(e).ENTITY_ID),
    })),
    crmEntityType: crmType(r.CRM_ENTITY_TYPE),
    crmEntityId: intOrNull(r.CRM_ENTITY_ID),
    leadCreationError: typeof r.LEAD_CREATION_ERROR === 'string' ? r.LEAD_CREATION_ERROR : undefined,
  };
}

function parseRecord(v: unknown): CallRecord {
  const r = obj(v);
  return {
    id: int(r.ID),
    callId: str(r.CALL_ID),
    externalCallId: strOrNull(r.EXTERNAL_CALL_ID),
    portalUserId: int(r.PORTAL_USER_ID),
    phoneNumber: str(r.PHONE_NUMBER),
    portalNumber: str(r.PORTAL_NUMBER),
    type: callTypeOf(r.INCOMING),
    duration: int(r.CALL_DURATION),
    startDate: dateOrNull(r.CALL_START_DATE),
    talked: int(r.CALL_STATUS) === 1,
    vote: int(r.CALL_VOTE),
    cost: num(r.COST),
    costCurrency: str(r.COST_CURRENCY),
    failedCode: str(r.CALL_FAILED_CODE),
    failedReason: str(r.CALL_FAILED_REASON),
    crmActivityId: intOrNull(r.CRM_ACTIVITY_ID),
    crmEntityType: crmType(r.CRM_ENTITY_TYPE),
    crmEntityId: intOrNull(r.CRM_ENTITY_ID),
    errors: Object.fromEntries(Object.entries(obj(r.ERRORS)).map(([k, e]) => [k, str(e)])),
  };
}

const parseBool = (method: string) => (v: unknown) => {
  if (typeof v !== 'boolean') throw badShape(method, 'not a boolean');
  return v;
};

const parseFile = (v: unknown): AttachedRecord => {
  const fileId = intOrNull(obj(v).FILE_ID);
  if (fileId === null) throw badShape(M.attachRecord, 'no FILE_ID');
  return { fileId };
};

export class ExternalCallApi {
  constructor(private readonly submit: Submit) {}

  /**
   * Registers a call; shows its card unless `show: false`. Its CALL_ID can be used by later
   * operations right away: pass the returned Pending as their `callId`.
   */
  register(p: RegisterParams, options?: SubmitOptions): Pending<RegisteredCall> {
    const start = p.callStartDate instanceof Date ? isoDate(p.callStartDate) : p.callStartDate;
    return this.submit(
      command(M.register, {
        USER_ID: p.userId,
        USER_PHONE_INNER: p.userPhoneInner,
        PHONE_NUMBER: p.phoneNumber,
        TYPE: callTypeCode[p.type],
        EXTERNAL_CALL_ID: p.externalCallId,
        CALL_START_DATE: start,
        CRM_CREATE: flag(p.crmCreate),
        CRM_SOURCE: p.crmSource,
        CRM_ENTITY_TYPE: p.crmEntity?.type,
        CRM_ENTITY_ID: p.crmEntity?.id,
        SHOW: flag(p.show),
        ADD_TO_CHAT: flag(p.addToChat),
        CALL_LIST_ID: p.callListId,
        LINE_NUMBER: p.lineNumber,
      }),
      options,
      (raw) => parseRegistered(raw.result),
    );
  }

  /** Shows the card; false when the call is unknown or already finished. */
  show(p: CardParams, options?: SubmitOptions): Pending<boolean> {
    return this.submit(
      command(M.show, { CALL_ID: callIdParam(p.callId), USER_ID: p.userIds }),
      options,
      (raw) => parseBool(M.show)(raw.result),
    );
  }

  /** Hides the card; false when the call is unknown or already finished. */
  hide(p: CardParams, options?: SubmitOptions): Pending<boolean> {
    return this.submit(
      command(M.hide, { CALL_ID: callIdParam(p.callId), USER_ID: p.userIds }),
      options,
      (raw) => parseBool(M.hide)(raw.result),
    );
  }

  finish(p: FinishParams, options?: SubmitOptions): Pending<FinishOutcome> {
    return this.submit(
      command(M.finish, {
        CALL_ID: callIdParam(p.callId),
        USER_ID: p.userId,
        USER_PHONE_INNER: p.userPhoneInner,
        DURATION: p.duration,
        COST: p.cost,
        COST_CURRENCY: p.costCurrency,
        STATUS_CODE: p.statusCode,
        FAILED_REASON: p.failedReason,
        RECORD_URL: p.recordUrl,
        VOTE: p.vote,
        ADD_TO_CHAT: flag(p.addToChat),
      }),
      options,
      (raw): FinishOutcome =>
        raw.result === alreadyFinished
          ? { status: 'already-finished' }
          : { status: 'finished', record: parseRecord(raw.result) },
    );
  }

  /** The portal downloads the recording from `recordUrl` (may travel in a batch). */
  attachRecordUrl(p: RecordUrlParams, options?: SubmitOptions): Pending<AttachedRecord> {
    return this.submit(
      command(M.attachRecord, {
        CALL_ID: callIdParam(p.callId),
        RECORD_URL: p.recordUrl,
        FILENAME: p.filename,
      }),
      options,
      (raw) => parseFile(raw.result),
    );
  }

  /** The recording inline, base64 in the request (a request of its own: files stay out of batch). */
  attachRecordContent(p: RecordFileParams, options?: SubmitOptions): Pending<AttachedRecord> {
    return this.submit(
      command(M.attachRecord, {
        CALL_ID: callIdParam(p.callId),
        FILENAME: p.filename,
        FILE_CONTENT: Buffer.from(p.content).toString('base64'),
      }),
      options,
      (raw) => parseFile(raw.result),
    );
  }

  /**
   * The recording by the portal's upload URL: attachRecord with FILENAME only returns the URL,
   * then the file goes there as multipart (two requests, both through the limiter).
   */
  uploadRecord(p: RecordFileParams, options?: SubmitOptions): Pending<AttachedRecord> {
    const slot = this.submit(
      command(M.attachRecord, { CALL_ID: callIdParam(p.callId), FILENAME: p.filename }),
      options,
      (raw) => {
        const r = obj(raw.result);
        if (typeof r.uploadUrl !== 'string') throw badShape(M.attachRecord, 'no uploadUrl');
        return r;
      },
    );
    return this.submit(
      uploadCommand({
        url: slot.ref<string>('uploadUrl'),
        field: slot.ref<string>('fieldName'),
        filename: p.filename,
        content: p.content,
      }),
      options,
      (raw) => parseFile(raw.result),
      // The caller asked for one thing: a failed first step is that thing's failure.
      (e) => {
        throw e.code === 'DEPENDENCY_FAILED' && e.cause instanceof BitrixError ? e.cause : e;
      },
    );
  }

  searchCrmEntities(phoneNumber: string, options?: SubmitOptions): Pending<CrmMatch[]> {
    return this.submit(command(M.search, { PHONE_NUMBER: phoneNumber }), options, (raw) =>
      list(raw.result).map((m) => {
        const r = obj(m);
        const a = obj(r.ASSIGNED_BY);
        return {
          entityType: crmType(r.CRM_ENTITY_TYPE),
          entityId: int(r.CRM_ENTITY_ID),
          name: str(r.NAME),
          assignedById: int(r.ASSIGNED_BY_ID),
          assignedBy: {
            id: int(a.ID, int(r.ASSIGNED_BY_ID)),
            timemanStatus: str(a.TIMEMAN_STATUS),
            userPhoneInner: strOrNull(a.USER_PHONE_INNER),
            workPhone: strOrNull(a.WORK_PHONE),
            personalPhone: strOrNull(a.PERSONAL_PHONE),
            personalMobile: strOrNull(a.PERSONAL_MOBILE),
          },
        };
      }),
    );
  }
}

interface ExternalLine {
  number: string;
  name: string;
  /** Create a lead for outgoing (click-to-call) calls to unknown numbers. */
  crmAutoCreate: boolean;
}

interface LineParams {
  number: string;
  name?: string;
  crmAutoCreate?: boolean;
}

const yn = (v: boolean | undefined): string | undefined => (v === undefined ? undefined : v ? 'Y' : 'N');

export class ExternalLineApi {
  constructor(private readonly submit: Submit) {}

  add(p: LineParams, options?: SubmitOptions): Pending<{ id: number }> {
    return this.submit(
      command(M.lineAdd, { NUMBER: p.number, NAME: p.name, CRM_AUTO_CREATE: yn(p.crmAutoCreate) }),
      options,
      (raw) => ({ id: int(obj(raw.result).ID) }),
    );
  }

  update(p: LineParams, options?: SubmitOptions): Pending<{ id: number }> {
    return this.submit(
      command(M.lineUpdate, { NUMBER: p.number, NAME: p.name, CRM_AUTO_CREATE: yn(p.crmAutoCreate) }),
      options,
      (raw) => ({ id: int(obj(raw.result).ID) }),
    );
  }

  delete(number: string, options?: SubmitOptions): Pending<void> {
    return this.submit(command(M.lineDelete, { NUMBER: number }), options, () => undefined);
  }

  get(options?: SubmitOptions): Pending<ExternalLine[]> {
    return this.submit(command(M.lineGet, {}), options, (raw) =>
      list(raw.result).map((l) => {
        const r = obj(l);
        return { number: str(r.NUMBER), name: str(r.NAME), crmAutoCreate: str(r.CRM_AUTO_CREATE) !== 'N' };
      }),
    );
  }
}
