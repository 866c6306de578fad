/**
 * An event the portal sends the application (ONAPPINSTALL, ONAPPUNINSTALL, ONEXTERNALCALLSTART,
 * ONEXTERNALCALLBACKSTART, ONAPPTEST, CRM changes), read from its form body into typed values.
 * Whether it is genuine (its `application_token` and `member_id` match an installation) is decided
 * by the application before anything is done.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
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

/** A form field as trimmed text; absent, empty or nested reads as undefined. */
const text = z
  .unknown()
  .optional()
  .transform((v) => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined));

/** A positive number, or undefined. */
const positive = text.transform((s) => {
  const n = Number(s);
  return Number.isFinite(n) && n > 0 ? n : undefined;
});

/** A nested part of the form (`auth[...]`, `data[...]`); anything else reads as empty. */
const part = z
  .unknown()
  .optional()
  // The form parser builds only strings and null-prototype objects: an object here is a FormObject.
  .transform((v): FormObject =>
    typeof v === 'object' && v !== null ? (v as FormObject) : (Object.create(null) as FormObject),
  );

const eventName = text.pipe(
  z
    .string()
    .transform((s) => s.toUpperCase())
    .pipe(z.string().regex(/^[A-Z0-9_.]{1,100}$/)),
);

const authSchema = z.object({
  member_id: text.pipe(z.string().regex(/^[A-Za-z0-9_.-]{1,100}$/)),
  application_token: text,
  domain: text,
  client_endpoint: text,
  server_endpoint: text,
  access_token: text,
  refresh_token: text,
  expires_in: positive,
});

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
  const event = eventName.safeParse(form.event);
  if (!event.success) throw new ServerError('INVALID_EVENT', 400, 'the body has no valid event name');
  const auth = authSchema.safeParse(part.parse(form.auth));
  if (!auth.success)
    throw new ServerError('EVENT_NOT_AUTHENTIC', 401, 'the event names no portal (auth[member_id])');
  const a = auth.data;
  const data = part.parse(form.data);
  const ts = text.parse(form.ts);
  const digestOf = (stamp: string): string =>
    createHash('sha256')
      .update(`${a.member_id}\n${event.data}\n${stamp}\n${canonical(data)}`)
      .digest('hex')
      .slice(0, 32);
  return {
    event: event.data,
    data,
    ts: positive.parse(form.ts) ?? null,
    auth: {
      memberId: a.member_id,
      applicationToken: a.application_token ?? '',
      domain: a.domain,
      clientEndpoint: a.client_endpoint,
      serverEndpoint: a.server_endpoint,
      accessToken: a.access_token,
      refreshToken: a.refresh_token,
      expiresInSec: a.expires_in,
    },
    // ts tells two identical requests (two callbacks asked for the same number) apart.
    digest: digestOf(ts ?? ''),
    replayKey: digestOf('*'),
  };
}
