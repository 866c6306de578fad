/**
 * The HTTP side of the PBX API as a PBX speaks it: bearer token, JSON both ways, and every answer
 * sorted into accepted, worth repeating (5xx, 408, 429, network), or refused for good (other 4xx).
 */
import type { Activity } from './activity.ts';

export type Outcome =
  | { readonly kind: 'ok'; readonly status: number; readonly body: unknown }
  | { readonly kind: 'retry'; readonly problem: string }
  | { readonly kind: 'rejected'; readonly status: number; readonly body: string };

export interface BridgeClientOptions {
  /** The bridge's base URL, e.g. `http://127.0.0.1:3000`; the API lives under `/pbx/v1`. */
  readonly bridgeUrl: string;
  readonly token: string;
  /** Gives up on a request after this much real time (default 10 s); the long poll adds its wait. */
  readonly requestTimeoutMs?: number;
}

/** Statuses that say "not now" rather than "never". */
const transient = new Set([408, 425, 429]);

export class BridgeClient {
  private readonly base: string;

  constructor(
    private readonly options: BridgeClientOptions,
    private readonly activity: Activity,
  ) {
    this.base = options.bridgeUrl.replace(/\/+$/, '');
  }

  /** A request counted as activity: events, route, ack. */
  request(method: 'GET' | 'POST', path: string, body?: unknown): Promise<Outcome> {
    return this.activity.track(() => this.send(method, path, body));
  }

  /**
   * A request not counted as activity: the long poll, which holds for as long as the bridge has no
   * command and would otherwise keep a test's clock from moving.
   */
  poll(path: string, extraMs: number, signal: AbortSignal): Promise<Outcome> {
    return this.send('GET', path, undefined, extraMs, signal);
  }

  private async send(
    method: 'GET' | 'POST',
    path: string,
    body: unknown,
    extraMs = 0,
    signal?: AbortSignal,
  ): Promise<Outcome> {
    const timeout = AbortSignal.timeout((this.options.requestTimeoutMs ?? 10_000) + extraMs);
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.options.token}`,
      accept: 'application/json',
    };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let status: number;
    let text: string;
    try {
      const response = await fetch(`${this.base}${path}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: signal === undefined ? timeout : AbortSignal.any([timeout, signal]),
      });
      status = response.status;
      text = await response.text();
    } catch (cause) {
      return { kind: 'retry', problem: describe(cause) };
    }
    if (status >= 200 && status < 300) {
      if (text === '') return { kind: 'ok', status, body: undefined };
      try {
        return { kind: 'ok', status, body: JSON.parse(text) as unknown };
      } catch {
        return { kind: 'retry', problem: `HTTP ${status} with a body that is not JSON` };
      }
    }
    if (status >= 500 || transient.has(status)) return { kind: 'retry', problem: `HTTP ${status}` };
    return { kind: 'rejected', status, body: text.slice(0, 2000) };
  }
}

function describe(cause: unknown): string {
  if (!(cause instanceof Error)) return String(cause);
  const inner = cause.cause instanceof Error ? `: ${cause.cause.message}` : '';
  return `${cause.message}${inner}`;
}
