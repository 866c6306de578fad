import { isoWithOffset } from '../http/envelope.ts';
import type { Call, User } from '../portal/model.ts';
import type { Portal } from '../portal/portal.ts';

/** The inspection API's view of a call (GET /_emulator/calls). */
export function callView(portal: Portal, c: Call): Record<string, unknown> {
  const date = (ms: number | null): string | null =>
    ms === null ? null : isoWithOffset(ms, portal.settings.utcOffsetMinutes);
  return {
    callId: c.callId,
    externalCallId: c.externalCallId,
    appId: c.appId,
    userId: c.userId,
    phoneNumber: c.phoneNumber,
    type: c.type,
    lineNumber: c.lineNumber,
    startDate: date(c.startDate),
    registeredAt: date(c.registeredAt),
    callListId: c.callListId,
    shown: c.shown,
    finished: c.finished,
    finishedAt: date(c.finishedAt),
    finishedBy: c.finishedBy,
    statusCode: c.statusCode,
    duration: c.duration,
    crmEntityType: c.crmEntityType,
    crmEntityId: c.crmEntityId,
    crmCreatedLead: c.createdLeadId,
    crmActivityId: c.crmActivityId,
    recordings: c.recordings.map((r) => ({
      fileId: r.fileId,
      filename: r.filename,
      size: r.size,
      sha256: r.sha256,
    })),
  };
}

export function userView(u: User): Record<string, unknown> {
  return {
    id: u.id,
    name: [u.name, u.lastName].filter((s) => s !== '').join(' '),
    extension: u.extension,
    active: u.active,
    admin: u.admin,
  };
}

/** What each user's screen shows now: the live page's data. */
export function screens(portal: Portal): Record<string, unknown> {
  const crmName = (c: Call): string | null => {
    if (c.crmEntityType === null || c.crmEntityId === null) return null;
    const e = portal.crm[c.crmEntityType].get(c.crmEntityId);
    if (!e) return null;
    return e.type === 'CONTACT' ? `${e.name} ${e.lastName}`.trim() : e.title;
  };
  return {
    users: [...portal.users.values()].map((u) => ({
      ...userView(u),
      cards: [...portal.cards.values()]
        .filter((card) => card.userId === u.id)
        .map((card) => {
          const call = portal.calls.get(card.callId);
          return {
            callId: card.callId,
            phoneNumber: card.phoneNumber,
            direction: call?.type === 1 ? 'outgoing' : 'incoming',
            crm: call ? { type: call.crmEntityType, id: call.crmEntityId, name: crmName(call) } : null,
            since: card.since,
          };
        }),
    })),
    recent: [...portal.calls.values()]
      .slice(-15)
      .reverse()
      .map((c) => ({
        callId: c.callId,
        externalCallId: c.externalCallId,
        phoneNumber: c.phoneNumber,
        userId: c.userId,
        type: c.type,
        finished: c.finished,
        statusCode: c.statusCode,
        duration: c.duration,
        crm: crmName(c),
        recordings: c.recordings.length,
      })),
    callLinkTemplate: portal.settings.callLinkTemplate,
    now: portal.clock.now(),
  };
}
