/**
 * The bridge's figures, fed from the events the Bitrix24 client and the outboxes already emit
 * (no code of theirs changes for metrics), plus a few read at scrape time (backlog, link, bucket).
 */
import type { BitrixClient } from '../bitrix/index.ts';
import { getCall, type Call } from '../core/index.ts';
import type { Outbox } from '../outbox/index.ts';
import type { Store } from '../store/index.ts';
import type { Registry } from './registry.ts';

/** Seconds: a card within 100 ms is good, within 2 s tolerable, beyond 5 s the call is half over. */
const LATENCY_BOUNDS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10];
const BATCH_BOUNDS = [1, 2, 5, 10, 20, 30, 40, 50];
const DURATION_BOUNDS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Calls waiting for their first card, at most: a flood of ringing without answers must not grow memory. */
const MAX_TRACKED = 10_000;

export function bridgeMetrics(registry: Registry) {
  const portal = ['portal'];
  return {
    calls: registry.counter('b24_bridge_calls_total', 'Calls ended, by scenario and result.', [
      'scenario',
      'result',
    ]),
    requests: registry.counter('b24_bridge_bitrix_requests_total', 'Requests sent to Bitrix24, by kind.', [
      'kind',
    ]),
    errors: registry.counter(
      'b24_bridge_bitrix_errors_total',
      'Bitrix24 failures by error code; scope "request" (a whole request) or "operation" (one command, for good).',
      ['scope', 'code'],
    ),
    rateLimited: registry.counter(
      'b24_bridge_bitrix_rate_limited_total',
      'Pushbacks from the portal limits.',
      ['code'],
    ),
    refreshes: registry.counter(
      'b24_bridge_bitrix_token_refreshes_total',
      'OAuth token refreshes, by result.',
      ['result'],
    ),
    batchSize: registry.histogram(
      'b24_bridge_bitrix_batch_size',
      'Commands per request to Bitrix24.',
      BATCH_BOUNDS,
    ),
    requestSeconds: registry.histogram(
      'b24_bridge_bitrix_request_duration_seconds',
      'Time from sending a request to its answer.',
      DURATION_BOUNDS,
    ),
    liveCallsRefused: registry.counter(
      'b24_bridge_live_calls_refused_total',
      'New calls not followed because their PBX had reached its cap of live calls (pbx[].maxLiveCalls).',
      ['pbx'],
    ),
    cardLatency: registry.histogram(
      'b24_bridge_card_latency_seconds',
      'From the PBX reporting a call ringing to the portal confirming its card.',
      LATENCY_BOUNDS,
    ),
    backlog: registry.gauge(
      'b24_bridge_outbox_backlog',
      'Outbox entries not yet delivered (pending or in flight).',
      portal,
    ),
    faults: registry.counter(
      'b24_bridge_outbox_faults_total',
      'Outbox background work that failed and is retried: "delivery" is an error the error table does not know (a bug), the entry kept.',
      ['where'],
    ),
    failed: registry.gauge('b24_bridge_outbox_failed', 'Outbox entries that failed for good.', portal),
    oldest: registry.gauge(
      'b24_bridge_outbox_oldest_age_seconds',
      'Age of the oldest undelivered outbox entry.',
      portal,
    ),
    link: registry.gauge(
      'b24_bridge_portal_link_up',
      '1 while the portal answers, 0 while it is down or needs attention.',
      portal,
    ),
    bucket: registry.gauge(
      'b24_bridge_portal_bucket_level',
      "Estimated level of the portal's rate-limit bucket.",
      portal,
    ),
    queued: registry.gauge(
      'b24_bridge_portal_queue_depth',
      'Operations queued in the client for the portal.',
      portal,
    ),
    reinstall: registry.gauge(
      'b24_bridge_portal_needs_reinstall',
      '1 when only re-installing the app helps.',
      portal,
    ),
    /** Set by the PBX adapters the bridge runs itself (Asterisk over AMI); no series without one. */
    amiConnected: registry.gauge('b24_bridge_ami_connected', 'AMI connection state per PBX (1 up, 0 down).', [
      'pbx',
    ]),
    /** Events of such a PBX kept in the store while no portal is installed (pbx[].ami.maxParkedEvents). */
    eventsParked: registry.gauge(
      'b24_bridge_pbx_events_parked',
      'Events of a PBX the bridge connects to itself, kept in the store while no portal is installed to take them.',
      ['pbx'],
    ),
    eventsDropped: registry.counter(
      'b24_bridge_pbx_events_dropped_total',
      'Events of such a PBX dropped, the oldest first: "parked" past pbx[].ami.maxParkedEvents while no portal was installed, "memory" while the store could not take them.',
      ['pbx', 'where'],
    ),
  };
}

export type BridgeMetrics = ReturnType<typeof bridgeMetrics>;

/** `inbound_queue`, `click_to_call`, …: the scenario of the mission a call belongs to. */
function scenarioOf(call: Call, routingOf: (lineId: string) => string): string {
  if (call.origin !== 'pbx') return call.origin;
  if (call.internal) return 'internal';
  if (call.direction === 'outbound') return 'outbound';
  return `inbound_${routingOf(call.lineId)}`;
}

function resultOf(call: Call): string {
  if (call.answeredAt !== null) return 'answered';
  return call.endReason === 'failed' ? 'failed' : 'missed';
}

export function watchClient(m: BridgeMetrics, client: BitrixClient): void {
  client.on('request', (e) => {
    m.requests.inc({ kind: e.kind });
    m.batchSize.observe({}, e.commands.length);
  });
  client.on('response', (e) => {
    m.requestSeconds.observe({}, e.durationMs / 1000);
    if (!e.ok) m.errors.inc({ scope: 'request', code: e.code ?? 'UNKNOWN' });
  });
  client.on('operation', (e) => {
    if (!e.ok) m.errors.inc({ scope: 'operation', code: e.code ?? 'UNKNOWN' });
  });
  client.on('rateLimited', (e) => m.rateLimited.inc({ code: e.code }));
  client.on('refresh', (e) => m.refreshes.inc({ result: e.ok ? 'ok' : (e.code ?? 'failed') }));
}

const callKeyOfOp = (opId: string): string => opId.slice(0, Math.max(0, opId.lastIndexOf(':')));

/**
 * Calls ended and the card latency of one portal's outbox. The latency runs from the PBX event
 * after which the engine wants a card up (the ringing, for nearly every call) to the portal's
 * answer to the first register or show of that call after it.
 */
export function watchOutbox(
  m: BridgeMetrics,
  outbox: Outbox,
  routingOf: (lineId: string) => string,
  now: () => number = Date.now,
): void {
  /** Calls waiting for their card, since when; -1 once measured. */
  const waiting = new Map<string, number>();
  outbox.on('accepted', ({ input, duplicate }) => {
    if (duplicate || !('callId' in input) || typeof input.callId !== 'string') return;
    const call = getCall(outbox.engineState, input.callId);
    if (!call || call.tombstone === true) return;
    if (input.type === 'call.ended') {
      waiting.delete(call.key);
      m.calls.inc({ scenario: scenarioOf(call, routingOf), result: resultOf(call) });
    } else if (call.card.holders.length > 0 && !waiting.has(call.key)) {
      if (waiting.size >= MAX_TRACKED) {
        const oldest = waiting.keys().next().value;
        if (oldest !== undefined) waiting.delete(oldest);
      }
      waiting.set(call.key, now());
    }
  });
  outbox.on('fault', ({ where }) => m.faults.inc({ where }));
  outbox.on('entry', (e) => {
    if (e.status !== 'done' || (e.kind !== 'register' && e.kind !== 'show')) return;
    const key = callKeyOfOp(e.opId);
    const since = waiting.get(key);
    if (since === undefined || since < 0) return;
    m.cardLatency.observe({}, Math.max(0, now() - since) / 1000);
    waiting.set(key, -1);
  });
}

interface WatchedPortal {
  memberId: string;
  outbox: Outbox;
}

/** The figures read at each scrape: backlog and age from the store, link and bucket from memory. */
export function collectPortals(
  registry: Registry,
  m: BridgeMetrics,
  portals: () => Iterable<WatchedPortal>,
  store: Store,
  client: BitrixClient,
  now: () => number = Date.now,
): () => void {
  return registry.collect(async () => {
    for (const { memberId, outbox } of portals()) {
      const labels = { portal: memberId };
      m.link.set(labels, outbox.link === 'up' ? 1 : 0);
      if (client.has(memberId)) {
        const s = client.state(memberId);
        m.bucket.set(labels, s.bucketLevel);
        m.queued.set(labels, s.depth);
        m.reinstall.set(labels, s.needsReinstall ? 1 : 0);
      }
      const b = await store.backlog(memberId);
      m.backlog.set(labels, b.pending + b.inFlight);
      m.failed.set(labels, b.failed);
      m.oldest.set(labels, b.oldestOpenAt === null ? 0 : Math.max(0, (now() - b.oldestOpenAt) / 1000));
    }
  });
}
