import { createHash, randomBytes } from 'node:crypto';
import { appIdOf } from '../auth.ts';
import { core, RestError } from '../errors.ts';
import { isoWithOffset } from '../http/envelope.ts';
import { toFlag, toInt, toIntList, toStr, upperKeys, type Params } from '../http/params.ts';
import type { Activity, Call, CrmEntity, CrmEntityType, Line, User } from '../portal/model.ts';
import { ownerTypeId } from '../portal/model.ts';
import type { Portal } from '../portal/portal.ts';
import { stripLetters } from '../portal/phone.ts';
import { parseIsoDate } from './dates.ts';
import { downloadRecording, attachFile, checkRecordName } from './recordings.ts';
import { ok, type CallContext, type MethodDef } from './types.ts';

const USER_REQUIRED = 'USER_ID or USER_PHONE_INNER should be set';
const USER_INACTIVE = 'User is not found or is not active';
const CALL_NOT_FOUND = 'Call is not found (call should be registered prior to finishing';
const CRM_TYPES: readonly string[] = ['CONTACT', 'COMPANY', 'LEAD'];

/** USER_ID if > 0, else the active user with that USER_PHONE_INNER; the id is checked later. */
function resolveUserId(portal: Portal, p: Params): number {
  const id = toInt(p.USER_ID);
  if (id > 0) return id;
  const inner = toStr(p.USER_PHONE_INNER);
  const byExt = inner ? portal.activeUserByExtension(inner) : undefined;
  if (!byExt) throw core(USER_REQUIRED);
  return byExt.id;
}

function requireActiveUser(portal: Portal, id: number): User {
  const u = portal.activeUser(id);
  if (!u) throw core(USER_INACTIVE);
  return u;
}

function newCallId(now: number): string {
  const md5 = createHash('md5').update(randomBytes(16)).digest('hex');
  return `externalCall.${md5}.${Math.floor(now / 1000)}`;
}

/** The app's line with that number, created silently when missing (spec §2.1 step 7). */
function ensureLine(portal: Portal, appId: number, number: string): Line {
  const existing = portal.lines.find((l) => l.appId === appId && l.number === number);
  if (existing) return existing;
  const line: Line = { id: portal.nextId('line'), appId, number, name: '', crmAutoCreate: 'Y' };
  portal.lines.push(line);
  return line;
}

export interface NewCall {
  appId: number;
  userId: number;
  phoneNumber: string;
  type: number;
  lineNumber: string | null;
  externalCallId: string | null;
  startDate: number;
  callListId: number | null;
  crmCreate: boolean;
  crmSource: string | null;
  crmEntity: { type: string; id: number } | null;
  show: boolean;
}

/**
 * Creates the call with its CRM binding (found by phone, or given), creating a lead when asked and
 * nothing matches; shared by `register` and the click-to-call trigger.
 */
export function createCall(portal: Portal, spec: NewCall): Call {
  const now = portal.clock.now();
  const callId = newCallId(now);
  const internal = portal.isInternalNumber(spec.phoneNumber);
  let entity: CrmEntity | undefined;
  let createdLeadId: number | null = null;
  if (!internal) {
    if (spec.crmEntity) {
      // Explicit binding: used as the primary entity, no phone search (spec §2.1).
      if (CRM_TYPES.includes(spec.crmEntity.type)) {
        entity = portal.crm[spec.crmEntity.type as CrmEntityType].get(spec.crmEntity.id);
      }
    } else {
      entity = portal.primaryEntityFor(spec.phoneNumber);
    }
    const mayCreate =
      spec.crmCreate && (!entity || (portal.settings.repeatLeadOnMatch && entity.type !== 'LEAD'));
    if (mayCreate) {
      const lead = portal.createLead(
        spec.phoneNumber,
        spec.userId,
        spec.crmSource,
        callId,
        spec.type === 1 ? 'out' : 'in',
      );
      createdLeadId = lead.id;
      entity = lead;
    }
  }
  const call: Call = {
    callId,
    appId: spec.appId,
    externalCallId: spec.externalCallId,
    userId: spec.userId,
    phoneNumber: spec.phoneNumber,
    type: spec.type,
    lineNumber: spec.lineNumber,
    startDate: spec.startDate,
    registeredAt: now,
    callListId: spec.callListId,
    shown: false,
    internal,
    crmEntityType: entity?.type ?? null,
    crmEntityId: entity?.id ?? null,
    createdLeadId,
    finished: false,
    finishedAt: null,
    finishedBy: null,
    statusCode: null,
    duration: null,
    crmActivityId: null,
    statisticId: null,
    vote: 0,
    cost: 0,
    costCurrency: '',
    failedReason: '',
    recordings: [],
  };
  portal.calls.set(callId, call);
  portal.addLiveCall(call);
  if (spec.show) portal.showCard(spec.userId, call);
  portal.emit('call', { kind: 'registered', call });
  return call;
}

export function registerResult(call: Call): Record<string, unknown> {
  return {
    CALL_ID: call.callId,
    CRM_CREATED_LEAD: call.createdLeadId,
    CRM_CREATED_ENTITIES:
      call.createdLeadId === null ? [] : [{ ENTITY_TYPE: 'LEAD', ENTITY_ID: call.createdLeadId }],
    CRM_ENTITY_TYPE: call.crmEntityType ?? '',
    CRM_ENTITY_ID: call.crmEntityId,
  };
}

/** An unfinished call of the same app within the window matching the identifying parameters. */
function findReRegistration(portal: Portal, spec: NewCall, lineGiven: boolean): Call | undefined {
  const since = portal.clock.now() - portal.settings.reRegisterWindowSec * 1000;
  for (const c of portal.liveCallsLike(spec.appId, spec.userId, spec.type, spec.phoneNumber)) {
    if (c.registeredAt < since) continue;
    if (lineGiven && c.lineNumber !== spec.lineNumber) continue;
    if (spec.externalCallId !== null && c.externalCallId !== spec.externalCallId) continue;
    return c;
  }
  return undefined;
}

const register: MethodDef = {
  scope: 'telephony',
  context: 'telephony',
  run(ctx, raw) {
    const { portal } = ctx;
    const p = upperKeys(raw);
    const userId = resolveUserId(portal, p);
    const type = toInt(p.TYPE);
    if (!(type >= 1 && type <= 5)) throw core('Unknown TYPE');
    const startText = toStr(p.CALL_START_DATE);
    let startDate = portal.clock.now();
    if (startText !== undefined && startText !== '') {
      const parsed = parseIsoDate(startText, portal.settings.utcOffsetMinutes);
      if (parsed === null) throw core('CALL_START_DATE should be in the ISO-8601 format');
      startDate = parsed;
    }
    const phoneNumber = stripLetters(toStr(p.PHONE_NUMBER) ?? '');
    if (!/\d/.test(phoneNumber)) throw core('Unsupported phone number format');
    requireActiveUser(portal, userId);
    const appId = appIdOf(ctx.auth);
    const lineText = (toStr(p.LINE_NUMBER) ?? '').trim().slice(0, 50);
    if (lineText !== '') ensureLine(portal, appId, lineText);
    const externalCallId = toStr(p.EXTERNAL_CALL_ID) ?? null;
    const callListId = toInt(p.CALL_LIST_ID);
    const entityType = (toStr(p.CRM_ENTITY_TYPE) ?? '').toUpperCase();
    const entityId = toInt(p.CRM_ENTITY_ID);
    const spec: NewCall = {
      appId,
      userId,
      phoneNumber,
      type,
      lineNumber: lineText === '' ? null : lineText,
      externalCallId: externalCallId === '' ? null : externalCallId,
      startDate,
      callListId: callListId > 0 ? callListId : null,
      crmCreate: toFlag(p.CRM_CREATE, false) || toFlag(p.CRM, false),
      crmSource: toStr(p.CRM_SOURCE) ?? null,
      crmEntity: entityType !== '' && entityId > 0 ? { type: entityType, id: entityId } : null,
      show: toFlag(p.SHOW, true),
    };
    const again = findReRegistration(portal, spec, lineText !== '');
    if (again) {
      if (spec.show) portal.showCard(userId, again);
      return ok(registerResult(again));
    }
    return ok(registerResult(createCall(portal, spec)));
  },
};

/** show/hide: `true` for a live call, `false` for an unknown or finished one (never an error). */
function cardMethod(action: 'show' | 'hide'): MethodDef {
  return {
    scope: 'telephony',
    run(ctx, raw) {
      const p = upperKeys(raw);
      const call = ctx.portal.liveCalls.get(toStr(p.CALL_ID) ?? '');
      if (!call) return ok(false);
      const users = p.USER_ID === undefined || p.USER_ID === '' ? [call.userId] : toIntList(p.USER_ID);
      for (const u of users) {
        if (action === 'show') ctx.portal.showCard(u, call);
        else ctx.portal.hideCard(u, call);
      }
      return ok(true);
    },
  };
}

const finish: MethodDef = {
  scope: 'telephony',
  context: 'telephony',
  run(ctx, raw) {
    const { portal } = ctx;
    const p = upperKeys(raw);
    const userId = resolveUserId(portal, p);
    if (typeof p.CALL_ID !== 'string')
      throw new RestError(400, 'INVALID_ARGUMENT', 'CALL_ID must be a string');
    const call = portal.liveCalls.get(p.CALL_ID);
    if (!call) throw core(CALL_NOT_FOUND);
    requireActiveUser(portal, userId);
    const duration = Math.max(0, toInt(p.DURATION));
    const statusCode = toStr(p.STATUS_CODE)?.trim() || (duration > 0 ? '200' : '304');
    const now = portal.clock.now();
    call.finished = true;
    call.finishedAt = now;
    call.finishedBy = userId;
    call.duration = duration;
    call.statusCode = statusCode;
    call.vote = Math.max(0, Math.min(5, toInt(p.VOTE)));
    call.cost = Number(toStr(p.COST) ?? 0) || 0;
    call.costCurrency = toStr(p.COST_CURRENCY) ?? '';
    call.failedReason = toStr(p.FAILED_REASON) ?? '';
    call.statisticId = portal.nextId('statistic');
    const errors: Record<string, string> = {};
    if (call.crmEntityType !== null && call.crmEntityId !== null) {
      call.crmActivityId = createActivity(portal, call, userId).id;
    } else {
      errors.ACTIVITY_CREATION = 'Could not find associated crm entity for the current call';
    }
    // Entities created during this call go to whoever handled it; existing ones keep their owner.
    if (call.createdLeadId !== null) {
      const lead = portal.crm.LEAD.get(call.createdLeadId);
      if (lead?.createdByCallId === call.callId) {
        lead.assignedById = userId;
        lead.modifiedAt = now;
      }
    }
    portal.removeLiveCall(call);
    portal.hideCard(userId, call);
    portal.emit('call', { kind: 'finished', call });
    const recordUrl = toStr(p.RECORD_URL);
    if (recordUrl) {
      // Deprecated asynchronous download: Bitrix fetches it later, failures are not reported.
      void downloadRecording(recordUrl, toStr(p.FILENAME), portal.settings.unreachableApp)
        .then(({ filename, content }) => attachFile(portal, call, filename, content, recordUrl))
        .catch(() => undefined);
    }
    const app = portal.apps.get(call.appId);
    const result: Record<string, unknown> = {
      CALL_ID: call.callId,
      EXTERNAL_CALL_ID: call.externalCallId,
      PORTAL_USER_ID: userId,
      PHONE_NUMBER: call.phoneNumber,
      PORTAL_NUMBER: call.lineNumber ?? `REST_APP:${call.appId}`,
      INCOMING: String(call.type),
      CALL_DURATION: duration,
      CALL_START_DATE: portal.settings.finishStartDateAsObject
        ? {}
        : isoWithOffset(call.startDate, portal.settings.utcOffsetMinutes),
      CALL_STATUS: duration > 0 ? 1 : 0,
      CALL_VOTE: call.vote,
      COST: call.cost,
      COST_CURRENCY: call.costCurrency,
      CALL_FAILED_CODE: statusCode,
      CALL_FAILED_REASON: call.failedReason,
      REST_APP_ID: String(call.appId),
      REST_APP_NAME: app?.name ?? '',
      CRM_ACTIVITY_ID: call.crmActivityId,
      COMMENT: null,
    };
    if (call.crmEntityType !== null) {
      result.CRM_ENTITY_TYPE = call.crmEntityType;
      result.CRM_ENTITY_ID = call.crmEntityId;
    }
    if (Object.keys(errors).length > 0) result.ERRORS = errors;
    result.ID = call.statisticId;
    return ok(result);
  },
};

function createActivity(portal: Portal, call: Call, responsibleId: number): Activity {
  const type = call.crmEntityType as CrmEntityType;
  const id = call.crmEntityId as number;
  const outgoing = call.type === 1;
  const missed = !outgoing && call.statusCode === '304';
  const bindings: Activity['bindings'] = [{ ownerTypeId: ownerTypeId[type], ownerId: id }];
  const entity = portal.crm[type].get(id);
  const deal = entity ? portal.openDealOf(entity) : undefined;
  if (deal) bindings.push({ ownerTypeId: ownerTypeId.DEAL, ownerId: deal.id });
  const activity: Activity = {
    id: portal.nextId('activity'),
    ownerType: type,
    ownerId: id,
    bindings,
    direction: outgoing ? 2 : 1,
    providerTypeId: call.type === 4 ? 'CALLBACK' : 'CALL',
    subject: `${outgoing ? 'Outgoing call to' : missed ? 'Missed call from' : 'Incoming call from'} ${call.phoneNumber}`,
    startTime: call.startDate,
    endTime: call.startDate + (call.duration ?? 0) * 1000,
    completed: !missed,
    missed,
    responsibleId,
    originId: `VI_${call.callId}`,
    phoneNumber: call.phoneNumber,
    storageElementIds: [],
    createdAt: portal.clock.now(),
  };
  portal.activities.set(activity.id, activity);
  return activity;
}

const attachRecord: MethodDef = {
  scope: 'telephony',
  batch: 'upload',
  async run(ctx, raw) {
    const { portal } = ctx;
    const p = upperKeys(raw);
    const call = portal.calls.get(toStr(p.CALL_ID) ?? '');
    // Checked first in every mode: the statistics record exists only after finish.
    if (!call?.finished)
      throw core('Call is not found in the statistic table. Looks like it is not finished yet.');
    const recordUrl = toStr(p.RECORD_URL);
    if (recordUrl !== undefined && recordUrl !== '') {
      const { filename, content } = await downloadRecording(
        recordUrl,
        toStr(p.FILENAME),
        portal.settings.unreachableApp,
      );
      checkRecordName(filename);
      return ok({ FILE_ID: attachFile(portal, call, filename, content, recordUrl).id });
    }
    if (p.FILENAME === undefined) {
      throw core('Required parameters are not set. Request should contain or URL or FILENAME parameter');
    }
    const filename = toStr(p.FILENAME) ?? '';
    checkRecordName(filename);
    if (p.FILE_CONTENT === undefined) {
      const token = portal.randomToken();
      portal.uploads.set(token, {
        token,
        callId: call.callId,
        filename,
        expiresAt: portal.clock.now() + 3600_000,
      });
      const auth = ctx.auth.kind === 'oauth' ? ctx.auth.token : '';
      const uploadUrl = `${portal.baseUrl}/rest/upload.json?auth=${encodeURIComponent(auth)}&token=${token}`;
      return ok({ uploadUrl, fieldName: 'file' });
    }
    const text = toStr(p.FILE_CONTENT) ?? '';
    if (text === '') throw core('File content is empty.');
    const compact = text.replace(/[\r\n\s]/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact) || compact.length % 4 === 1) {
      throw core('File content is not properly encoded. Base64 encoding is expected.');
    }
    return ok({ FILE_ID: attachFile(portal, call, filename, Buffer.from(compact, 'base64')).id });
  },
};

const searchCrmEntities: MethodDef = {
  scope: 'telephony',
  run(ctx, raw) {
    const { portal } = ctx;
    const phone = toStr(upperKeys(raw).PHONE_NUMBER)?.trim() ?? '';
    if (phone === '') throw core('PHONE_NUMBER is empty');
    const found = [
      ...portal.findByPhone(phone, 'CONTACT'),
      ...portal.findByPhone(phone, 'LEAD'),
      ...portal.findByPhone(phone, 'COMPANY'),
    ];
    return ok(
      found.map((e) => {
        const manager = portal.users.get(e.assignedById);
        return {
          CRM_ENTITY_TYPE: e.type,
          CRM_ENTITY_ID: e.id,
          ASSIGNED_BY_ID: e.assignedById,
          NAME: e.type === 'COMPANY' ? e.title : e.type === 'LEAD' ? e.title || fullName(e) : fullName(e),
          ASSIGNED_BY: {
            ID: String(e.assignedById),
            TIMEMAN_STATUS: manager?.timemanStatus ?? 'UNAVAILABLE',
            USER_PHONE_INNER: manager?.extension ?? null,
            WORK_PHONE: manager?.workPhone || null,
            PERSONAL_PHONE: manager?.personalPhone || null,
            PERSONAL_MOBILE: manager?.personalMobile || null,
          },
        };
      }),
    );
  },
};

const fullName = (e: CrmEntity): string => [e.name, e.lastName].filter((s) => s !== '').join(' ');

// --- external lines: scoped to the calling application ---

const lineNumberParam = (p: Params): string => (toStr(p.NUMBER) ?? '').trim().slice(0, 50);
const autoCreate = (v: Params[string] | undefined): 'Y' | 'N' =>
  toStr(v)?.toUpperCase() === 'Y' ? 'Y' : 'N';

const lineAdd: MethodDef = {
  scope: 'telephony',
  context: 'telephony',
  run(ctx, raw) {
    const p = upperKeys(raw);
    const number = lineNumberParam(p);
    if (number === '') throw core('NUMBER should not be empty');
    const appId = appIdOf(ctx.auth);
    if (ctx.portal.lines.some((l) => l.appId === appId && l.number === number))
      throw core('Line already exists');
    const line: Line = {
      id: ctx.portal.nextId('line'),
      appId,
      number,
      name: toStr(p.NAME) ?? '',
      crmAutoCreate: p.CRM_AUTO_CREATE === undefined ? 'Y' : autoCreate(p.CRM_AUTO_CREATE),
    };
    ctx.portal.lines.push(line);
    return ok({ ID: line.id });
  },
};

function findLine(ctx: CallContext, number: string): Line {
  const appId = appIdOf(ctx.auth);
  const line = ctx.portal.lines.find((l) => l.appId === appId && l.number === number);
  if (!line) throw core(`Could not find line with number ${number}`);
  return line;
}

const lineUpdate: MethodDef = {
  scope: 'telephony',
  context: 'telephony',
  run(ctx, raw) {
    const p = upperKeys(raw);
    if (p.NAME === undefined && p.CRM_AUTO_CREATE === undefined) throw core('There are no fields to update');
    const number = lineNumberParam(p);
    if (number === '') throw core('NUMBER should not be empty');
    const line = findLine(ctx, number);
    if (p.NAME !== undefined) line.name = toStr(p.NAME) ?? '';
    if (p.CRM_AUTO_CREATE !== undefined) line.crmAutoCreate = autoCreate(p.CRM_AUTO_CREATE);
    return ok({ ID: String(line.id) });
  },
};

const lineDelete: MethodDef = {
  scope: 'telephony',
  context: 'telephony',
  run(ctx, raw) {
    const number = lineNumberParam(upperKeys(raw));
    if (number === '') throw core('NUMBER should not be empty');
    const line = findLine(ctx, number);
    ctx.portal.lines = ctx.portal.lines.filter((l) => l !== line);
    return ok([]);
  },
};

const lineGet: MethodDef = {
  scope: 'telephony',
  context: 'telephony',
  run(ctx) {
    const appId = appIdOf(ctx.auth);
    return ok(
      ctx.portal
        .linesOf(appId)
        .map((l) => ({ NUMBER: l.number, NAME: l.name, CRM_AUTO_CREATE: l.crmAutoCreate })),
    );
  },
};

export const telephonyMethods: Record<string, MethodDef> = {
  'telephony.externalcall.register': register,
  'telephony.externalcall.show': cardMethod('show'),
  'telephony.externalcall.hide': cardMethod('hide'),
  'telephony.externalcall.finish': finish,
  'telephony.externalcall.attachrecord': attachRecord,
  'telephony.externalcall.searchcrmentities': searchCrmEntities,
  'telephony.externalline.add': lineAdd,
  'telephony.externalline.update': lineUpdate,
  'telephony.externalline.delete': lineDelete,
  'telephony.externalline.get': lineGet,
};
