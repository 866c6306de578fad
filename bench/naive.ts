/**
 * The baseline: the seed example's naive way (the PHP `restCommand` of the Bitrix24 telephony
 * tutorial), carried over to the same PBX events the bridge takes. One REST request per method per
 * user, sent the moment the event comes, no batching, no limiter, no queue, no store:
 * - ringing: `register` for the first user rung (the card), then `show` for each other user;
 * - a ring that stops, or another user answering: `hide` for each user whose card goes;
 * - hang-up: `finish`; the recording: `attachRecord` (by URL).
 * What fails is lost, as in the PHP example (it never looks at an error); a call's requests go one
 * after another, since `show`/`hide`/`finish` need the CALL_ID `register` returns.
 */

export interface NaiveOptions {
  /** `http://portal/rest/`: method names are appended. */
  restUrl: string;
  /** The application's access token (the PHP example keeps the installer's AUTH_ID). */
  accessToken: string;
  /** Extension → Bitrix24 user (the PHP example takes the user id from its caller). */
  directory: ReadonlyMap<string, number>;
  defaultUserId: number;
  /** Told of each request as it leaves (the bench's overhead figure). */
  onSend?: (pbxCallId: string, method: string) => void;
}

/** The PBX API's event shapes, as much of them as the naive way reads. */
export interface NaiveEvent {
  type: string;
  callId: string;
  at?: string | null;
  direction?: 'inbound' | 'outbound';
  from?: string;
  to?: string;
  extensions?: string[];
  extension?: string;
  url?: string;
  filename?: string;
}

interface NaiveCall {
  from: string;
  direction: 'inbound' | 'outbound';
  startedAt: number;
  answeredAt: number | null;
  bitrixCallId: string | null;
  /** Users whose card is up. */
  shown: number[];
  handler: number | null;
  /** The call's requests run one after another. */
  chain: Promise<void>;
}

export interface NaiveStats {
  requests: number;
  errors: number;
  byError: Record<string, number>;
  liveCalls: number;
}

const timeOf = (e: NaiveEvent): number => (e.at == null ? Date.now() : Date.parse(e.at));

export class NaiveBridge {
  readonly calls = new Map<string, NaiveCall>();
  private requests = 0;
  private errors = 0;
  private readonly byError: Record<string, number> = {};

  constructor(private readonly o: NaiveOptions) {}

  stats(): NaiveStats {
    return {
      requests: this.requests,
      errors: this.errors,
      byError: { ...this.byError },
      liveCalls: this.calls.size,
    };
  }

  /** Takes one PBX event; the REST calls it causes run in the background, in order per call. */
  handle(e: NaiveEvent): void {
    if (e.type === 'call.started') {
      this.calls.set(e.callId, {
        from: e.from ?? '',
        direction: e.direction ?? 'inbound',
        startedAt: timeOf(e),
        answeredAt: null,
        bitrixCallId: null,
        shown: [],
        handler: null,
        chain: Promise.resolve(),
      });
      return;
    }
    const call = this.calls.get(e.callId);
    if (!call) return;
    call.chain = call.chain.then(() => this.act(e, call)).catch(() => undefined);
  }

  private async act(e: NaiveEvent, call: NaiveCall): Promise<void> {
    const id = e.callId;
    switch (e.type) {
      case 'call.ringing': {
        for (const ext of e.extensions ?? []) {
          const user = this.o.directory.get(ext);
          if (user === undefined || call.shown.includes(user)) continue;
          if (call.bitrixCallId === null) {
            const r = (await this.rest(id, 'telephony.externalCall.register', {
              USER_ID: user,
              PHONE_NUMBER: call.from,
              TYPE: call.direction === 'inbound' ? 2 : 1,
              CRM_CREATE: 1,
              SHOW: 1,
            })) as { CALL_ID?: string } | null;
            if (!r?.CALL_ID) return;
            call.bitrixCallId = r.CALL_ID;
          } else {
            await this.rest(id, 'telephony.externalCall.show', { CALL_ID: call.bitrixCallId, USER_ID: user });
          }
          call.shown.push(user);
        }
        return;
      }
      case 'call.ring_stopped':
        for (const ext of e.extensions ?? []) await this.hide(id, call, this.o.directory.get(ext));
        return;
      case 'call.answered': {
        const user = this.o.directory.get(e.extension ?? '') ?? null;
        call.answeredAt = timeOf(e);
        call.handler = user;
        for (const other of call.shown.filter((u) => u !== user)) await this.hide(id, call, other);
        return;
      }
      case 'call.ended': {
        if (call.bitrixCallId === null) return;
        const answered = call.answeredAt;
        await this.rest(id, 'telephony.externalCall.finish', {
          CALL_ID: call.bitrixCallId,
          USER_ID: call.handler ?? call.shown[0] ?? this.o.defaultUserId,
          DURATION: answered === null ? 0 : Math.max(1, Math.ceil((timeOf(e) - answered) / 1000)),
          STATUS_CODE: answered === null ? '304' : '200',
        });
        call.shown = [];
        // Without a recording coming the call is forgotten; with one, after the attach.
        return;
      }
      case 'recording.ready': {
        if (call.bitrixCallId === null || e.url === undefined) return;
        await this.rest(id, 'telephony.externalCall.attachRecord', {
          CALL_ID: call.bitrixCallId,
          FILENAME: e.filename ?? 'recording.mp3',
          RECORD_URL: e.url,
        });
        this.calls.delete(id);
        return;
      }
    }
  }

  private async hide(id: string, call: NaiveCall, user: number | undefined): Promise<void> {
    if (user === undefined || call.bitrixCallId === null || !call.shown.includes(user)) return;
    await this.rest(id, 'telephony.externalCall.hide', { CALL_ID: call.bitrixCallId, USER_ID: user });
    call.shown = call.shown.filter((u) => u !== user);
  }

  /** The PHP example's `restCommand`: one POST per method, the answer's `result` or nothing. */
  async rest(pbxCallId: string, method: string, params: Record<string, unknown>): Promise<unknown> {
    this.requests += 1;
    this.o.onSend?.(pbxCallId, method);
    try {
      const res = await fetch(`${this.o.restUrl}${method}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...params, auth: this.o.accessToken }),
      });
      const body = (await res.json()) as { result?: unknown; error?: string };
      if (body.error !== undefined) this.failed(body.error);
      return body.result ?? null;
    } catch (e) {
      this.failed((e as { code?: string }).code ?? 'NETWORK');
      return null;
    }
  }

  private failed(code: string): void {
    this.errors += 1;
    this.byError[code] = (this.byError[code] ?? 0) + 1;
  }
}

/**
 * Scenario 6 the naive way, as the tutorial spells it: for each call missed during an outage,
 * `register` with SHOW=0, then `finish`, one request each.
 */
export async function naiveReplay(
  naive: NaiveBridge,
  calls: readonly { callId: string; from: string; userId: number; startedAt: number; durationSec: number }[],
  concurrency = 8,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < calls.length; i = next++) {
      const c = calls[i];
      if (c === undefined) continue;
      const r = (await naive.rest(c.callId, 'telephony.externalCall.register', {
        USER_ID: c.userId,
        PHONE_NUMBER: c.from,
        TYPE: 2,
        CALL_START_DATE: new Date(c.startedAt).toISOString(),
        CRM_CREATE: 1,
        SHOW: 0,
      })) as { CALL_ID?: string } | null;
      if (!r?.CALL_ID) continue;
      await naive.rest(c.callId, 'telephony.externalCall.finish', {
        CALL_ID: r.CALL_ID,
        USER_ID: c.userId,
        DURATION: c.durationSec,
        STATUS_CODE: '200',
      });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}
