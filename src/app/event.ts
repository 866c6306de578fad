/**
 * An event the portal sends the application (ONAPPINSTALL, ONAPPUNINSTALL, ONEXTERNALCALLSTART,
 * ONEXTERNALCALLBACKSTART, ONAPPTEST, CRM changes), read from its form body into typed values.
 * Whether it is genuine (its `application_token` and `member_id` match an installation) is decided
 * by the application before anything is done.
 */
import { createHash } from 'node:crypto';
import { ServerError, type FormObject, type FormValue } from '../http/index.ts';

export interface BitrixEventAuth {
  memberId: string;
  /** A secret: never logged. Empty when the event carried none (then it is refused). */
  applicationToken: string;
  domain: string | undefined;
  clientEndpoint: string | undefined;
  serverEndpoint: string | undefined;
  /** Secrets (ONAPPINSTALL carries the installation's pair): never logged. */
  accessToken: string | undefined;
  refreshToken: string | undefined;
  expiresInSec: number | undefined;
}

export interface BitrixEvent {
  /** Upper case: `ONEXTERNALCALLSTART`. */
  event: string;
  /** The event's own fields (`data[...]`), as strings and nested objects. */
  data: FormObject;
  /** `ts`: when the portal raised it, seconds since the epoch, if given. */
  ts: number | null;
  auth: BitrixEventAuth;
  /** A digest of the event, its data and its `ts`: the same delivery repeated has the same one. */
  digest: string;
  /**
   * A digest of the event and its data without `ts`: the same event sent again with another `ts`
   * (a replay, which nobody signs) has the same one.
   */
  replayKey: string;
}

export interface BitrixEventOutcome {
  /** What was done, for the portal's delivery log and for tests: never a secret. */
  result: 'done' | 'duplicate' | 'ignored';
}

export type BitrixEventHandler = (event: BitrixEvent) => Promise<BitrixEventOutcome>;

const text = (v: FormValue | undefined): string | undefined =>
  typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;

/** The canonical JSON of a form value (keys sorted), for the digest. */
function canonical(v: FormValue): string {
  if (typeof v === 'string') return JSON.stringify(v);
  return `{${Object.keys(v)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonical(v[k] ?? '')}`)
    .join(',')}}`;
}

/** The event as typed values; refuses a body that is not a Bitrix24 event at all. */
export function parseBitrixEvent(form: FormObject): BitrixEvent {
  const event = text(form.event)?.toUpperCase();
  if (event === undefined || !/^[A-Z0-9_.]{1,100}$/.test(event))
    throw new ServerError('INVALID_EVENT', 400, 'the body has no valid event name');
  const object = (v: FormValue | undefined): FormObject =>
    typeof v === 'object' ? v : (Object.create(null) as FormObject);
  const auth = object(form.auth);
  const data = object(form.data);
  const memberId = text(auth.member_id);
  if (memberId === undefined || !/^[A-Za-z0-9_.-]{1,100}$/.test(memberId))
    throw new ServerError('EVENT_NOT_AUTHENTIC', 401, 'the event names no portal (auth[member_id])');
  const tsRaw = Number(text(form.ts));
  const expires = Number(text(auth.expires_in));
  const digestOf = (ts: string): string =>
    createHash('sha256')
      .update(`${memberId}\n${event}\n${ts}\n${canonical(data)}`)
      .digest('hex')
      .slice(0, 32);
  return {
    event,
    data,
    ts: Number.isFinite(tsRaw) && tsRaw > 0 ? tsRaw : null,
    auth: {
      memberId,
      applicationToken: text(auth.application_token) ?? '',
      domain: text(auth.domain),
      clientEndpoint: text(auth.client_endpoint),
      serverEndpoint: text(auth.server_endpoint),
      accessToken: text(auth.access_token),
      refreshToken: text(auth.refresh_token),
      expiresInSec: Number.isFinite(expires) && expires > 0 ? expires : undefined,
    },
    // ts tells two identical requests (two callbacks asked for the same number) apart.
    digest: digestOf(text(form.ts) ?? ''),
    replayKey: digestOf('*'),
  };
}
