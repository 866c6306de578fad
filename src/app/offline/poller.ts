/**
 * Outbound-only mode: the bridge reads its portal's offline event queue itself, so Bitrix24 never
 * needs to reach it. Records are reserved for this instance's `process_id` (`clear=0`), handled,
 * then cleared; what cannot be handled is marked with `event.offline.error`; what failed for a
 * passing reason (the store, the network) stays reserved and is read again by this process, so an
 * event is neither lost nor taken by two instances at once. The outbox's dedupe keys (the portal's
 * CALL_ID) make a second handling after a crash a no-op.
 */
import { EventEmitter } from 'node:events';
import type { PortalApi } from '../../bitrix/index.ts';
import type { BitrixEvent } from '../event.ts';
import { initialPollState, nextReadInMs, type PollSettings, type PollState } from './timing.ts';
import { OfflineRecordError, parseOfflineResult, toBitrixEvent, type OfflineRecord } from './record.ts';

/** One page per read: the documented default. */
const PAGE = 50;

interface PollerDeps {
  api: Pick<PortalApi, 'call'>;
  portal: () => { memberId: string; domain: string | null };
  /** This instance's reservation name: stable across restarts, so its reserved records come back. */
  processId: string;
  settings: PollSettings;
  /** Handles one event as the push route would; throws what it refuses or could not do. */
  handle(event: BitrixEvent, record: OfflineRecord): Promise<unknown>;
  liveCalls?: (() => number) | undefined;
  /** A read failed: true stops the poller (the app is gone from the portal). */
  readFailed?: ((error: unknown) => Promise<boolean>) | undefined;
  warn(message: string): void;
  now?: () => number;
}

interface ReadReport {
  fetched: number;
  handled: number;
  failed: number;
  /** Left reserved for a later read (a passing failure). */
  kept: number;
}

interface PollerEvents {
  read: [ReadReport];
  readFailed: [unknown];
}

/** A refusal (a 4xx ServerError, a record that is no event) will not get better by trying again. */
const permanent = (e: unknown): boolean => {
  if (e instanceof OfflineRecordError) return true;
  const status = (e as { status?: unknown }).status;
  return typeof status === 'number' && status >= 400 && status < 500;
};

const codeOf = (e: unknown): string => {
  const code = (e as { code?: unknown }).code;
  return typeof code === 'string' ? code : e instanceof Error ? e.name : 'ERROR';
};

export class OfflinePoller extends EventEmitter<PollerEvents> {
  private state: PollState = initialPollState();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;
  /** Requests made to the portal: the bench reads the polling's cost from it. */
  requests = 0;
  private readonly now: () => number;

  constructor(private readonly d: PollerDeps) {
    super();
    this.now = d.now ?? Date.now;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule();
  }

  /** A call was seen (or a click is likely): read at the live pace from now on. */
  touch(): void {
    this.state = { ...this.state, lastActivityAt: this.now() };
    if (this.running === undefined && !this.stopped) this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(): void {
    clearTimeout(this.timer);
    if (this.stopped) return;
    const state = { ...this.state, liveCalls: this.d.liveCalls?.() ?? 0 };
    this.timer = setTimeout(
      () => {
        this.running = this.readOnce()
          .then(
            (report) => {
              this.emit('read', report);
            },
            async (e: unknown) => {
              this.emit('readFailed', e);
              const gone = await (this.d.readFailed?.(e) ?? Promise.resolve(false)).catch(() => false);
              if (gone) this.stopped = true;
            },
          )
          .finally(() => {
            this.running = undefined;
            this.schedule();
          });
      },
      nextReadInMs(state, this.now(), this.d.settings),
    );
  }

  /** One read of the queue and the handling of what it brought. */
  async readOnce(): Promise<ReadReport> {
    const { api, processId } = this.d;
    let records: OfflineRecord[];
    try {
      this.requests++;
      const raw = await api.call(
        'event.offline.get',
        { clear: 0, process_id: processId, limit: PAGE },
        { lane: 'read' },
      );
      records = parseOfflineResult(raw.result).records;
    } catch (e) {
      this.state = { ...this.state, lastReadAt: this.now(), failures: this.state.failures + 1 };
      throw e;
    }
    const done: string[] = [];
    const failed: string[] = [];
    let kept = 0;
    for (const record of records) {
      try {
        await this.d.handle(toBitrixEvent(record, this.d.portal(), this.now()), record);
        done.push(record.messageId);
      } catch (e) {
        if (permanent(e)) {
          failed.push(record.messageId);
          this.d.warn(
            `offline event ${record.eventName} ${record.id} refused (${codeOf(e)}); marked as an error on the portal`,
          );
        } else {
          kept++;
          this.d.warn(
            `offline event ${record.eventName} ${record.id} not handled yet (${codeOf(e)}); read again later`,
          );
        }
      }
    }
    if (done.length > 0) await this.send('event.offline.clear', { process_id: processId, message_id: done });
    if (failed.length > 0)
      await this.send('event.offline.error', { process_id: processId, message_id: failed });
    const now = this.now();
    this.state = {
      ...this.state,
      lastReadAt: now,
      failures: kept > 0 ? this.state.failures + 1 : 0,
      backlog: records.length >= PAGE,
      lastActivityAt: records.length > 0 ? now : this.state.lastActivityAt,
    };
    return { fetched: records.length, handled: done.length, failed: failed.length, kept };
  }

  /** Clearing and marking may be repeated safely: they name this process's records only. */
  private async send(method: string, params: { process_id: string; message_id: string[] }): Promise<void> {
    this.requests++;
    try {
      await this.d.api.call(method, params, { lane: 'read' });
    } catch (e) {
      // Not cleared: the records stay reserved and come back at the next read, handled as repeats.
      this.d.warn(`${method} failed (${codeOf(e)}); its records are read again`);
    }
  }
}
