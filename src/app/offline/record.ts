/**
 * A record of the portal's offline event queue (`event.offline.get`) read into the BitrixEvent the
 * push route builds from a POST, so both go through the same handler. The record came back to our
 * own token's request, so the portal it is from is the one asked, not what the record claims.
 */
import type { FormObject, FormValue } from '../../http/index.ts';
import { parseBitrixEvent, type BitrixEvent } from '../event.ts';

export interface OfflineRecord {
  id: string;
  messageId: string;
  eventName: string;
  /** When the portal queued it (ms since the epoch); null when it gave no readable time. */
  queuedAt: number | null;
  data: unknown;
}

export class OfflineRecordError extends Error {
  readonly code = 'OFFLINE_RECORD_INVALID';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OfflineRecordError';
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

/** JSON as the form parser would have built it: strings and null-prototype objects. */
function toForm(v: unknown, depth = 0): FormValue {
  if (depth > 8) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  if (typeof v === 'boolean') return v ? '1' : '';
  if (Array.isArray(v) || isObject(v)) {
    const out = Object.create(null) as FormObject;
    for (const [k, value] of Object.entries(v)) out[k] = toForm(value, depth + 1);
    return out;
  }
  return '';
}

/** The `events` of an `event.offline.get` result; anything not shaped like a record is refused. */
export function parseOfflineResult(result: unknown): { processId: string | null; records: OfflineRecord[] } {
  if (!isObject(result) || !Array.isArray(result.events))
    throw new OfflineRecordError('event.offline.get answered without an events list');
  const records = result.events.map((raw: unknown): OfflineRecord => {
    if (!isObject(raw)) throw new OfflineRecordError('an offline event is not an object');
    const id = raw.ID;
    const messageId = raw.MESSAGE_ID;
    const eventName = raw.EVENT_NAME;
    if (
      (typeof id !== 'string' && typeof id !== 'number') ||
      (typeof messageId !== 'string' && typeof messageId !== 'number') ||
      typeof eventName !== 'string'
    )
      throw new OfflineRecordError('an offline event lacks ID, MESSAGE_ID or EVENT_NAME');
    const queuedAt = typeof raw.TIMESTAMP_X === 'string' ? Date.parse(raw.TIMESTAMP_X) : NaN;
    return {
      id: String(id),
      messageId: String(messageId),
      eventName: eventName.toUpperCase(),
      queuedAt: Number.isFinite(queuedAt) ? queuedAt : null,
      data: raw.EVENT_DATA,
    };
  });
  const processId = typeof result.process_id === 'string' ? result.process_id : null;
  return { processId, records };
}

/** The BitrixEvent of a record of this portal's queue. */
export function toBitrixEvent(
  record: OfflineRecord,
  portal: { memberId: string; domain: string | null },
  now: number,
): BitrixEvent {
  const data = toForm(isObject(record.data) ? record.data : {});
  const form = Object.create(null) as FormObject;
  form.event = record.eventName;
  form.data = data;
  form.ts = String(Math.floor((record.queuedAt ?? now) / 1000));
  const auth = Object.create(null) as FormObject;
  auth.member_id = portal.memberId;
  if (portal.domain !== null) auth.domain = portal.domain;
  form.auth = auth;
  try {
    return parseBitrixEvent(form);
  } catch (e) {
    throw new OfflineRecordError(`offline event ${record.id} is not a Bitrix24 event`, { cause: e });
  }
}
