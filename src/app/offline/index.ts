/**
 * Outbound-only mode (`bitrix.events: "offline"`): which mode applies, this instance's
 * reservation name, and one poller per installed portal.
 */
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { isBitrixError, isCallNotFound } from '../../bitrix/index.ts';
import type { BridgeConfig } from '../../config/index.ts';
import type { EngineState } from '../../core/index.ts';
import type { PortalRuntime } from '../../portal/index.ts';
import type { BitrixApp } from '../bitrix-app.ts';
import type { BitrixEvent } from '../event.ts';
import { OfflinePoller } from './poller.ts';
import type { OfflineRecord } from './record.ts';

export { OfflinePoller } from './poller.ts';
export { nextReadInMs, initialPollState, type PollSettings } from './timing.ts';
export { parseOfflineResult, toBitrixEvent } from './record.ts';

type EventsMode = 'offline' | 'push';

/** Calls of the engine not yet over: while there are any, the queue is read at the live pace. */
export function liveCallsOf(state: EngineState): number {
  let n = 0;
  for (const shard of Object.values(state.shards))
    for (const call of Object.values(shard)) if (call.phase !== 'done' && call.phase !== 'wrapping') n++;
  return n;
}

/** Set explicitly, else push only when the portal has a public URL to post to. */
export function eventsMode(config: BridgeConfig): EventsMode {
  if (config.bitrix.mode !== 'app') return 'push';
  return config.bitrix.events ?? (config.server.publicUrl === undefined ? 'offline' : 'push');
}

/**
 * A name that stays the same when this instance restarts (what it reserved comes back to it) and
 * differs between instances on other hosts or directories.
 */
export function defaultProcessId(config: BridgeConfig, dataDir: string): string {
  const seed = `${hostname()}\n${dataDir}\n${String(config.server.port)}`;
  return `b24-bridge-${createHash('sha256').update(seed).digest('hex').slice(0, 16)}`;
}

/**
 * A click queued while the bridge was down and found later than `clickFreshMs` is not dialled (the
 * user has long given up): the portal's call is finished as not connected rather than left open.
 */
async function handleOffline(
  app: Pick<BitrixApp, 'offlineEvent'>,
  runtime: PortalRuntime,
  event: BitrixEvent,
  record: OfflineRecord,
  clickFreshMs: number,
  now: number,
): Promise<'dialled' | 'stale' | 'done'> {
  if (
    event.event === 'ONEXTERNALCALLSTART' &&
    record.queuedAt !== null &&
    now - record.queuedAt > clickFreshMs
  ) {
    const callId = typeof event.data.CALL_ID === 'string' ? event.data.CALL_ID : '';
    const userId = Number(typeof event.data.USER_ID === 'string' ? event.data.USER_ID : NaN);
    if (callId === '' || !Number.isSafeInteger(userId) || userId <= 0) {
      await app.offlineEvent(runtime.memberId, event);
      return 'done';
    }
    // The record comes back when the finish went and its clear did not (the process died, the
    // answer was lost): the portal then answers "Call is not found", as it does for a call someone
    // else finished. Either way the call is not open: the record is done, not an error.
    try {
      await runtime.api.externalCall.finish(
        {
          callId,
          userId,
          duration: 0,
          statusCode: '304',
          failedReason: 'the bridge was not running when the number was clicked',
        },
        { orderKey: callId },
      );
    } catch (e) {
      if (!(isBitrixError(e) && isCallNotFound(e))) throw e;
    }
    return 'stale';
  }
  await app.offlineEvent(runtime.memberId, event);
  return event.event === 'ONEXTERNALCALLSTART' ? 'dialled' : 'done';
}

export interface OfflinePollers {
  /** Starts reading a portal's queue (a no-op for one already read). */
  watch(runtime: PortalRuntime): OfflinePoller;
  of(memberId: string): OfflinePoller | undefined;
  close(): Promise<void>;
}

export function offlinePollers(options: {
  config: BridgeConfig;
  app: Pick<BitrixApp, 'offlineEvent' | 'offlineAccessLost'>;
  processId: string;
  warn(message: string): void;
  liveCalls?: ((memberId: string) => number) | undefined;
}): OfflinePollers {
  const { config } = options;
  if (config.bitrix.mode !== 'app') throw new Error('offline events need bitrix.mode "app"');
  const s = config.bitrix.offline;
  const pollers = new Map<string, OfflinePoller>();
  return {
    watch(runtime) {
      const existing = pollers.get(runtime.memberId);
      if (existing) return existing;
      const poller = new OfflinePoller({
        api: runtime.api,
        portal: () => ({ memberId: runtime.memberId, domain: runtime.record.domain }),
        processId: options.processId,
        settings: s,
        handle: (event, record) =>
          handleOffline(options.app, runtime, event, record, s.clickFreshSec * 1000, Date.now()),
        liveCalls: options.liveCalls ? () => options.liveCalls?.(runtime.memberId) ?? 0 : undefined,
        readFailed: async (e) => {
          const gone = await options.app.offlineAccessLost(runtime.memberId, e);
          if (gone) pollers.delete(runtime.memberId);
          return gone;
        },
        warn: (m) => {
          options.warn(`portal ${runtime.memberId}: ${m}`);
        },
      });
      pollers.set(runtime.memberId, poller);
      poller.start();
      return poller;
    },
    of: (memberId) => pollers.get(memberId),
    async close() {
      await Promise.all([...pollers.values()].map((p) => p.stop()));
      pollers.clear();
    },
  };
}
