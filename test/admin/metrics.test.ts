/**
 * `/metrics` of a running bridge (in process, against the emulated portal): the figures move with
 * real calls: calls by scenario and result, Bitrix24 requests and batch sizes, card latency,
 * backlog; errors by code during an outage. Each bridge has a registry of its own, with the
 * process figures of prom-client's default metrics.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator, type Emulator } from 'b24-emulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, type Bridge } from '../../src/bridge/index.ts';
import { DEMO_PBX_TOKEN, demoDocument, parseConfig } from '../../src/config/index.ts';
import { Registry } from '../../src/metrics/index.ts';
import { waitFor } from '../e2e/processes.ts';

let emulator: Emulator;
let bridge: Bridge;
let dir = '';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'b24-metrics-'));
  emulator = await startEmulator({ port: 0 });
  const doc = demoDocument({
    clientId: 'local.metrics',
    clientSecret: 'metrics-client-secret-0123',
    oauthUrl: `${emulator.url}/oauth/token/`,
    simulator: false,
    sqlitePath: join(dir, 'bridge.sqlite'),
  });
  const parsed = parseConfig({
    ...doc,
    bitrix: { ...doc.bitrix, retry: { maxAttempts: 1, minDelayMs: 10, maxDelayMs: 10 } },
    engine: { defaultUserId: 1, lines: [], recording: { maxWaitSec: 0, hideGraceSec: 0 } },
  });
  if (!parsed.ok) throw parsed.error;
  // No registry given: the bridge makes its own.
  bridge = await startBridge(
    { ...parsed.config, server: { ...parsed.config.server, publicUrl: undefined } },
    { port: 0, host: '127.0.0.1', warn: () => undefined },
  );
  const res = await fetch(`${emulator.url}/_emulator/apps`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      clientId: 'local.metrics',
      clientSecret: 'metrics-client-secret-0123',
      installUrl: `${bridge.url}/bitrix/install`,
      scopes: ['telephony', 'crm', 'user'],
    }),
  });
  expect(res.status).toBe(201);
});

afterAll(async () => {
  await bridge.close();
  await emulator.close();
  rmSync(dir, { recursive: true, force: true });
});

const scrape = async (): Promise<string> => (await fetch(`${bridge.url}/metrics`)).text();
const sample = (text: string, series: string): number | undefined => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

async function pbx(events: unknown[]): Promise<void> {
  const res = await fetch(`${bridge.url}/pbx/v1/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${DEMO_PBX_TOKEN}` },
    body: JSON.stringify(events),
  });
  expect(res.status).toBe(202);
}

function call(callId: string, answered: boolean): unknown[] {
  const start = Date.now();
  const at = (ms: number): string => new Date(start + ms).toISOString();
  return [
    { type: 'call.started', callId, direction: 'inbound', from: '+79161234567', to: '101', at: at(0) },
    { type: 'call.ringing', callId, extensions: ['101'], at: at(100) },
    ...(answered ? [{ type: 'call.answered', callId, extension: '101', at: at(1000) }] : []),
    { type: 'call.ended', callId, reason: answered ? 'completed' : 'no_answer', at: at(5000) },
  ];
}

describe('/metrics of a running bridge', () => {
  it('counts calls by scenario and result, requests, batch sizes and the card latency', async () => {
    const start = Date.now();
    await pbx(call('m-1', false).slice(0, 2));
    await waitFor('the card latency observed', async () =>
      sample(await scrape(), 'b24_bridge_card_latency_seconds_count') === 1 ? true : undefined,
    );
    await pbx(call('m-1', false).slice(2));
    await pbx(call('m-2', true));
    const text = await waitFor('both calls counted and delivered', async () => {
      const t = await scrape();
      const missed = sample(t, 'b24_bridge_calls_total{result="missed",scenario="inbound_direct"}');
      const answered = sample(t, 'b24_bridge_calls_total{result="answered",scenario="inbound_direct"}');
      const backlog = sample(t, `b24_bridge_outbox_backlog{portal="emulator-member-1"}`);
      return missed === 1 && answered === 1 && backlog === 0 ? t : undefined;
    });
    const latency = sample(text, 'b24_bridge_card_latency_seconds_sum') ?? -1;
    expect(latency).toBeGreaterThanOrEqual(0);
    expect(latency).toBeLessThan((Date.now() - start) / 1000);
    expect(sample(text, 'b24_bridge_bitrix_batch_size_count')).toBeGreaterThan(0);
    expect(sample(text, 'b24_bridge_bitrix_requests_total{kind="call"}')).toBeGreaterThan(0);
    expect(sample(text, 'b24_bridge_portal_link_up{portal="emulator-member-1"}')).toBe(1);
    // No Asterisk in this bridge's configuration: the AMI gauge is declared, with no series.
    expect(text).toContain('# TYPE b24_bridge_ami_connected gauge\n');
    expect(text).not.toMatch(/^b24_bridge_ami_connected/m);
  });

  it("has the process figures every Node service exposes, in this bridge's own registry", async () => {
    const text = await scrape();
    for (const name of [
      'process_cpu_user_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_seconds',
      'nodejs_eventloop_lag_p99_seconds',
      'nodejs_heap_size_used_bytes',
      'nodejs_gc_duration_seconds',
      'nodejs_active_handles_total',
    ])
      expect(text, name).toMatch(new RegExp(`^# TYPE ${name} `, 'm'));
    expect(sample(text, 'nodejs_heap_size_used_bytes')).toBeGreaterThan(0);

    // A second bridge in the same process counts only its own calls.
    const other = await startBridge(
      { ...bridge.config, store: { kind: 'sqlite', path: join(dir, 'other.sqlite') } },
      { port: 0, host: '127.0.0.1', warn: () => undefined, metrics: new Registry() },
    );
    try {
      const own = await (await fetch(`${other.url}/metrics`)).text();
      expect(own).toContain('# TYPE b24_bridge_calls_total counter\n');
      expect(own).not.toMatch(/^b24_bridge_calls_total\{/m);
      // Given a registry without the process figures, it has none of them.
      expect(own).not.toContain('nodejs_heap_size_used_bytes');
      expect(await scrape()).toMatch(/^b24_bridge_calls_total\{/m);
    } finally {
      await other.close();
    }
  });

  it('counts errors by code and shows the backlog and its age while the portal is down', async () => {
    await fetch(`${emulator.url}/_emulator/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ outage: 'refuse' }),
    });
    await pbx(call('m-3', false));
    const text = await waitFor('the outage in the figures', async () => {
      const t = await scrape();
      return sample(t, 'b24_bridge_portal_link_up{portal="emulator-member-1"}') === 0 &&
        (sample(t, 'b24_bridge_outbox_backlog{portal="emulator-member-1"}') ?? 0) > 0
        ? t
        : undefined;
    });
    expect(sample(text, 'b24_bridge_bitrix_errors_total{code="NETWORK",scope="request"}')).toBeGreaterThan(0);
    expect(
      sample(text, 'b24_bridge_outbox_oldest_age_seconds{portal="emulator-member-1"}'),
    ).toBeGreaterThanOrEqual(0);
    await fetch(`${emulator.url}/_emulator/faults`, { method: 'DELETE' });
  });
});
