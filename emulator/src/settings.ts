/**
 * How the emulated portal behaves where Bitrix24's behaviour is a setting, a plan, or UNCONFIRMED in
 * the spec. Defaults follow the spec's stated defaults.
 */
export interface Settings {
  /** The portal's stable id (`member_id`). */
  memberId: string;
  /**
   * The portal's host name (`auth[domain]`, `DOMAIN`, and the host of `client_endpoint` the OAuth
   * server reports); default: the emulator's host:port. Another host must route to this emulator.
   */
  domain: string | null;
  /** UTC offset of the portal's time zone, for `date_start`-style strings. */
  utcOffsetMinutes: number;
  /** Leaky bucket: drain rate (requests/s) and size. Other plans 2/50, enterprise 5/250 (spec §1.6). */
  rateLimit: { rate: number; burst: number };
  /** Whether a request rejected with QUERY_LIMIT_EXCEEDED still fills the bucket (UNCONFIRMED). */
  countRejected: boolean;
  /** Per method × app execution-time budget over a sliding window (spec §1.6); 0 disables it. */
  operatingLimitSec: number;
  /** Incoming webhooks calling register/finish/externalLine.*: documented answer is WRONG_AUTH_TYPE. */
  webhookTelephony: 'reject' | 'allow';
  accessTokenLifetimeSec: number;
  refreshTokenLifetimeSec: number;
  /** After a refresh, does the previous access token keep working until its own expiry (UNCONFIRMED)? */
  oldAccessTokenAfterRefresh: 'valid' | 'revoked';
  /** After a refresh, does the previous refresh token keep working (UNCONFIRMED; assumed not)? */
  oldRefreshTokenAfterRefresh: 'valid' | 'revoked';
  /** event.bind of an already bound event+handler: "Handler already binded" (UNCONFIRMED). */
  duplicateBindError: boolean;
  /** Create a repeat lead on register even when a contact/company matches (CRM mode dependent). */
  repeatLeadOnMatch: boolean;
  /**
   * attachRecord with a file (base64 or upload URL) inside batch: file methods are excluded from
   * batch; UNCONFIRMED for base64. The RECORD_URL form carries no file and is always allowed.
   */
  attachRecordInBatch: boolean;
  /** The re-registration window in which identical `register` calls return the same CALL_ID. */
  reRegisterWindowSec: number;
  /** How long an event handler may take before the delivery counts as failed (no retries). */
  eventTimeoutMs: number;
  /** `finish` result's CALL_START_DATE serialized as `{}` as in the docs' example. */
  finishStartDateAsObject: boolean;
  /**
   * Where the page's recent calls link to (http or https), `{externalCallId}` replaced by the
   * call's EXTERNAL_CALL_ID: the demo points it at the bridge's call journal. Null: no links.
   */
  callLinkTemplate: string | null;
  /**
   * The app's server cannot be reached from the portal (behind NAT): every delivery to a handler
   * URL, the install callback and every RECORD_URL download fail as a refused connection.
   */
  unreachableApp: boolean;
}

export const defaultSettings = (): Settings => ({
  memberId: 'emulator-member-1',
  domain: null,
  utcOffsetMinutes: 180,
  rateLimit: { rate: 2, burst: 50 },
  countRejected: false,
  operatingLimitSec: 480,
  webhookTelephony: 'reject',
  accessTokenLifetimeSec: 3600,
  refreshTokenLifetimeSec: 180 * 24 * 3600,
  oldAccessTokenAfterRefresh: 'valid',
  oldRefreshTokenAfterRefresh: 'revoked',
  duplicateBindError: true,
  repeatLeadOnMatch: false,
  attachRecordInBatch: false,
  reRegisterWindowSec: 1800,
  eventTimeoutMs: 10_000,
  finishStartDateAsObject: true,
  callLinkTemplate: null,
  unreachableApp: false,
});

export const plans = {
  standard: { rate: 2, burst: 50 },
  enterprise: { rate: 5, burst: 250 },
} as const;

export interface TargetedFault {
  kind: 'error' | 'lostReply';
  /** Lower-case method name; absent: any request. */
  method?: string;
  count: number;
}

/** Faults injected on purpose, to test a client's resilience. All off by default. */
export interface Faults {
  /** "refuse": REST connections are dropped; "503": REST answers 503 with an HTML page. */
  outage: 'refuse' | '503' | null;
  /** Added before every REST and OAuth answer. */
  latencyMs: number;
  /** Share of REST requests answered 500 before they are processed (nothing happened). */
  errorRate: number;
  /** Share of REST requests processed and then cut off before the answer (it did happen). */
  lostReplyRate: number;
  /** Simulated server processing time per command, counted by the operating-time limit. */
  processingSec: number;
  /** `true` expires every access token issued so far; a number caps every token's life in seconds. */
  expireTokens: boolean | number;
  /**
   * Faults aimed at the next requests of one method, each rule used `count` times: "error" answers
   * 500 before processing (matching the request's method, `batch` for a batch); "lostReply"
   * processes and then cuts the answer (matching the method or any command inside a batch).
   */
  next: TargetedFault[];
  /** Overrides the settings' leaky bucket while set. */
  rateLimit: { rate: number; burst: number } | null;
}

export const noFaults = (): Faults => ({
  outage: null,
  latencyMs: 0,
  errorRate: 0,
  lostReplyRate: 0,
  next: [],
  processingSec: 0,
  expireTokens: false,
  rateLimit: null,
});
