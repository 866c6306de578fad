/**
 * Hands one outbox entry to the Bitrix24 client. The outbox depends on this narrow slice of
 * `PortalApi`, so tests can stand in for it; a real `PortalApi` satisfies it as is.
 */
import type {
  AttachedRecord,
  CallIdInput,
  CardParams,
  CrmActivity,
  CrmKind,
  CrmRecord,
  FinishOutcome,
  FinishParams,
  Pending,
  RecordFileParams,
  RecordUrlParams,
  RegisteredCall,
  RegisterParams,
  SubmitOptions,
  CallType as ClientCallType,
  CrmEntityType,
  CrmMatch,
} from '../bitrix/index.ts';
import { errorRule } from '../bitrix/index.ts';
import type { CallType } from '../core/index.ts';
import type { EntryPayload } from './entries.ts';

export interface OutboxApi {
  readonly externalCall: {
    register(p: RegisterParams, o?: SubmitOptions): Pending<RegisteredCall>;
    show(p: CardParams, o?: SubmitOptions): Pending<boolean>;
    hide(p: CardParams, o?: SubmitOptions): Pending<boolean>;
    finish(p: FinishParams, o?: SubmitOptions): Pending<FinishOutcome>;
    attachRecordUrl(p: RecordUrlParams, o?: SubmitOptions): Pending<AttachedRecord>;
    uploadRecord(p: RecordFileParams, o?: SubmitOptions): Pending<AttachedRecord>;
    searchCrmEntities(phoneNumber: string, o?: SubmitOptions): Pending<CrmMatch[]>;
  };
  readonly crm: {
    get(kind: CrmKind, id: number, o?: SubmitOptions): Pending<CrmRecord | null>;
    activity(id: number, o?: SubmitOptions): Pending<CrmActivity | null>;
  };
}

/** Where recordings uploaded by a PBX (`contentRef`) are read from; the engine never holds bytes. */
export type RecordingSource = (contentRef: string) => Promise<Uint8Array>;

/**
 * The URL at which the portal can download an uploaded recording (the bridge serves it), or
 * undefined when there is none: then the bytes are uploaded as a file.
 */
export type RecordingUrl = (contentRef: string) => string | undefined;

/**
 * Outbound-only: the portal cannot download from the office, the PBX's recording server included,
 * so a recording given by URL is fetched by the bridge and its bytes uploaded.
 */
export type RecordingDownload = (url: string) => Promise<Uint8Array>;

/** What a settled entry yields, as stored in its `result`. */
export type EntryResult =
  | { kind: 'register'; call: RegisteredCall }
  | { kind: 'card'; applied: boolean }
  | { kind: 'finish'; outcome: 'finished' | 'already-finished'; crmActivityId?: number | null }
  | { kind: 'record'; fileId: number }
  | { kind: 'responsible'; userId: number | null; timemanStatus?: string | null };

const callTypes: Readonly<Record<CallType, ClientCallType>> = { 1: 'outgoing', 2: 'incoming', 4: 'callback' };
const crmTypes: ReadonlySet<string> = new Set(['CONTACT', 'COMPANY', 'LEAD']);
const crmKinds: Readonly<Record<string, CrmKind>> = {
  CONTACT: 'contact',
  COMPANY: 'company',
  LEAD: 'lead',
  DEAL: 'deal',
};

export interface Submitted {
  /** A register's Pending: later show/hide of the call reference its CALL_ID. */
  register?: Pending<RegisteredCall>;
  result: Promise<EntryResult>;
}

/**
 * Submits the entry's operation. `callId` is the stored CALL_ID, or the call's register submitted
 * in this process (show/hide ride on its `$result`). Returns the client's Pending mapped to the
 * result the outbox stores.
 */
export function submitEntry(
  api: OutboxApi,
  payload: EntryPayload,
  callId: CallIdInput | null,
  options: SubmitOptions,
  recordings: RecordingSource | undefined,
  recordingUrl?: RecordingUrl,
  /**
   * An attachRecord tried before (it may have reached the portal: a process killed before its
   * answer was stored): the call's CRM activity, read first. A recording already on it means the
   * earlier try did attach, and attaching again would add a second one.
   */
  attachedTo?: number | null,
  recordingDownload?: RecordingDownload,
): Submitted {
  const need = (): CallIdInput => {
    if (callId === null) throw new TypeError(`${payload.opId}: no CALL_ID to send ${payload.type} with`);
    return callId;
  };
  switch (payload.type) {
    case 'bitrix.register': {
      const crmEntity =
        payload.crmEntityType !== undefined &&
        crmTypes.has(payload.crmEntityType) &&
        payload.crmEntityId !== undefined
          ? { type: payload.crmEntityType as CrmEntityType, id: payload.crmEntityId }
          : undefined;
      const p = api.externalCall.register(
        {
          userId: payload.userId,
          phoneNumber: payload.phoneNumber,
          type: callTypes[payload.callType],
          // The call key: the same on every repeat, so the portal answers a repeat with the same
          // CALL_ID instead of registering the call twice.
          externalCallId: payload.externalCallId,
          callStartDate: new Date(payload.callStartDate),
          crmCreate: payload.crmCreate,
          ...(payload.crmSource === undefined ? {} : { crmSource: payload.crmSource }),
          ...(crmEntity === undefined ? {} : { crmEntity }),
          show: payload.show,
          ...(payload.callListId === undefined ? {} : { callListId: payload.callListId }),
          ...(payload.lineNumber === undefined ? {} : { lineNumber: payload.lineNumber }),
        },
        options,
      );
      return { register: p, result: p.then((call) => ({ kind: 'register', call })) };
    }
    case 'bitrix.show':
    case 'bitrix.hide': {
      const params = { callId: need(), userIds: payload.userIds };
      const p =
        payload.type === 'bitrix.show'
          ? api.externalCall.show(params, options)
          : api.externalCall.hide(params, options);
      return { result: p.then((applied) => ({ kind: 'card', applied })) };
    }
    case 'bitrix.finish': {
      const p = api.externalCall.finish(
        {
          callId: need(),
          userId: payload.userId,
          duration: payload.durationSec,
          statusCode: payload.statusCode,
          ...(payload.failedReason === undefined ? {} : { failedReason: payload.failedReason }),
          ...(payload.addToChat === undefined ? {} : { addToChat: payload.addToChat }),
        },
        options,
      );
      // The CRM activity: the call journal shows it, and a repeated attachRecord first asks it.
      return {
        result: p.then((o) => ({
          kind: 'finish',
          outcome: o.status,
          crmActivityId: o.status === 'finished' ? o.record.crmActivityId : null,
        })),
      };
    }
    case 'bitrix.attachRecord': {
      const attach = (): Promise<EntryResult> =>
        attachRecord(api, payload, need(), options, recordings, recordingUrl, recordingDownload);
      if (attachedTo == null) return { result: attach() };
      const result = api.crm.activity(attachedTo, options).then(
        (activity): EntryResult | Promise<EntryResult> => {
          const fileId = activity?.storageElementIds[0];
          return fileId === undefined ? attach() : { kind: 'record', fileId };
        },
        // No right to read the CRM, say: attach as before rather than lose the recording.
        (e: unknown) => {
          if (errorRule(e)?.kind === 'rejected') return attach();
          throw e;
        },
      );
      return { result };
    }
    case 'bitrix.findResponsible': {
      const kind = crmKinds[payload.crmEntityType.toUpperCase()];
      if (kind === undefined) {
        return { result: Promise.resolve({ kind: 'responsible', userId: null }) };
      }
      // searchCrmEntities answers with the responsible and whether they are at work (TIMEMAN_STATUS)
      // in one request; a record it does not list (another of the number's) is read by its id.
      const type = payload.crmEntityType.toUpperCase();
      const result = api.externalCall
        .searchCrmEntities(payload.phoneNumber, options)
        .then((matches): EntryResult | Promise<EntryResult> => {
          const hit = matches.find((m) => m.entityType === type && m.entityId === payload.crmEntityId);
          if (hit)
            return {
              kind: 'responsible',
              userId: hit.assignedById,
              timemanStatus: hit.assignedBy.timemanStatus,
            };
          return api.crm
            .get(kind, payload.crmEntityId, options)
            .then((r): EntryResult => ({ kind: 'responsible', userId: r?.assignedById ?? null }));
        });
      return { result };
    }
  }
}

/** The recording onto the call: by URL when there is one (it rides in a batch), else its bytes. */
function attachRecord(
  api: OutboxApi,
  payload: Extract<EntryPayload, { type: 'bitrix.attachRecord' }>,
  target: CallIdInput,
  options: SubmitOptions,
  recordings: RecordingSource | undefined,
  recordingUrl: RecordingUrl | undefined,
  recordingDownload: RecordingDownload | undefined,
): Promise<EntryResult> {
  if (payload.url !== undefined && recordingDownload !== undefined) {
    // The portal could not fetch the URL (outbound-only): the bridge does, and uploads the file.
    return recordingDownload(payload.url).then((content) =>
      api.externalCall
        .uploadRecord({ callId: target, filename: payload.filename, content }, options)
        .then((r): EntryResult => ({ kind: 'record', fileId: r.fileId })),
    );
  }
  if (payload.url !== undefined) {
    const p = api.externalCall.attachRecordUrl(
      { callId: target, recordUrl: payload.url, filename: payload.filename },
      options,
    );
    return p.then((r): EntryResult => ({ kind: 'record', fileId: r.fileId }));
  }
  const ref = payload.contentRef;
  // By URL when the bridge serves it: RECORD_URL rides in a batch, a file upload cannot.
  const served = ref === undefined ? undefined : recordingUrl?.(ref);
  if (served !== undefined) {
    const p = api.externalCall.attachRecordUrl(
      { callId: target, recordUrl: served, filename: payload.filename },
      options,
    );
    return p.then((r): EntryResult => ({ kind: 'record', fileId: r.fileId }));
  }
  if (ref === undefined || recordings === undefined) {
    throw new TypeError(`${payload.opId}: a recording without a URL and no recording source`);
  }
  // The bytes are read first, then submitted: the upload is a request of its own anyway.
  return recordings(ref).then((content) =>
    api.externalCall
      .uploadRecord({ callId: target, filename: payload.filename, content }, options)
      .then((r): EntryResult => ({ kind: 'record', fileId: r.fileId })),
  );
}
