import { BitrixError, networkError, portalError } from './errors.ts';

/**
 * HTTP on Node's fetch, and the reading of Bitrix24's envelope (spec §1.3, §1.4). Every failure
 * comes out as a BitrixError; nothing here retries.
 */

export interface HttpOptions {
  fetch: typeof fetch;
  timeoutMs: number;
  userAgent: string;
  /** Aborted when the client closes. */
  signal: AbortSignal;
  memberId?: string | undefined;
}

interface HttpReply {
  status: number;
  /** Parsed JSON, or undefined when the body is not JSON. */
  json: unknown;
}

/** A successful envelope: `result` plus the list and timing fields. */
export interface Envelope {
  result: unknown;
  total?: number | undefined;
  next?: number | undefined;
  time?: Record<string, unknown> | undefined;
}

/**
 * One HTTP request. `label` names it in errors (a method name, `batch`, `oauth`): URLs are not
 * used in messages because webhook URLs and upload URLs carry secrets.
 */
export async function send(
  url: string,
  init: { method: 'POST' | 'GET'; body?: string | FormData; contentType?: string },
  label: string,
  options: HttpOptions,
): Promise<HttpReply> {
  const headers: Record<string, string> = { accept: 'application/json', 'user-agent': options.userAgent };
  if (init.contentType) headers['content-type'] = init.contentType;
  try {
    const res = await options.fetch(url, {
      method: init.method,
      headers,
      ...(init.body === undefined ? {} : { body: init.body }),
      signal: AbortSignal.any([options.signal, AbortSignal.timeout(options.timeoutMs)]),
    });
    const text = await res.text();
    return { status: res.status, json: parseJson(text) };
  } catch (e) {
    throw networkError(label, e, options.memberId);
  }
}

export function postJson(
  url: string,
  payload: unknown,
  label: string,
  options: HttpOptions,
): Promise<HttpReply> {
  return send(
    url,
    { method: 'POST', body: JSON.stringify(payload), contentType: 'application/json' },
    label,
    options,
  );
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Reads a REST reply: the envelope on success, a BitrixError otherwise. */
export function readEnvelope(reply: HttpReply, label: string, memberId?: string): Envelope | BitrixError {
  const { status, json } = reply;
  if (isRecord(json) && typeof json.error === 'string') {
    return portalError(
      label,
      {
        error: json.error,
        error_description: typeof json.error_description === 'string' ? json.error_description : undefined,
      },
      status,
      memberId,
    );
  }
  if (status >= 200 && status < 300 && isRecord(json) && 'result' in json) {
    return {
      result: json.result,
      total: typeof json.total === 'number' ? json.total : undefined,
      next: typeof json.next === 'number' ? json.next : undefined,
      time: isRecord(json.time) ? json.time : undefined,
    };
  }
  if (status >= 500) {
    // An HTML page from the portal's front (maintenance, outage): 503 means it was turned away;
    // other gateway errors (502, 504) may come after the portal started working on it.
    return new BitrixError('SERVER_ERROR', `${label}: the portal answered HTTP ${status}`, {
      status,
      method: label,
      memberId,
      maybeDelivered: status !== 503,
    });
  }
  return new BitrixError('BAD_RESPONSE', `${label}: not a Bitrix24 answer (HTTP ${status})`, {
    status,
    method: label,
    memberId,
    maybeDelivered: true,
  });
}
