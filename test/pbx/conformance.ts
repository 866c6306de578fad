/**
 * The conformance suite every PBX adapter passes: the same calls, each adapter driven its own way
 * (HTTP requests, the simulator's office, replayed AMI captures), must reach the bridge as the
 * same normalized event sequences. What reaches "the bridge" is what its real intake steps: the
 * events go through the bridge's own server (`/pbx/v1`) or adapter sink (`src/bridge/adapters.ts`)
 * into an intake that, like the journal, steps a repeated event (same dedupe key) once.
 *
 * The stories are those of the Asterisk captures (`test/fixtures/asterisk-ami/`): numbers,
 * extensions and outcomes are what a real Asterisk did.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig, type BridgeConfig } from '../../src/config/index.ts';
import type { EngineInput, PbxEffect } from '../../src/core/index.ts';
import type { AcceptResult } from '../../src/outbox/index.ts';
import type { OriginateCommand, PbxEvent, PlanStep, RouteRequested } from '../../src/pbx/index.ts';
import type { EventIntake } from '../../src/intake/index.ts';
import { StoreError } from '../../src/store/index.ts';

export const scenarioNames = [
  'direct answered',
  'missed',
  'queue',
  'click-to-call',
  'transfer',
  'recording',
  'repeated delivery',
] as const;
export type ScenarioName = (typeof scenarioNames)[number];

export const CALLER = '+79161234567';
export const PBX_TOKEN = 'conformance-token';

/** The click-to-call every driver carries out, as the engine would emit it. */
export const clickToCall: OriginateCommand = {
  commandId: 'conformance-originate-1',
  type: 'originate',
  callId: 'conformance-c2c-1',
  extension: '101',
  number: '+74957654321',
};

/** What each scenario must look like to the bridge (see `story`). */
export const expectedStories: Readonly<Record<ScenarioName, readonly string[]>> = {
  'direct answered': [`started inbound ${CALLER} → 101`, 'ringing 101', 'answered 101', 'ended completed'],
  missed: [`started inbound ${CALLER} → 104`, 'ringing 104', 'ring_stopped 104', 'ended cancelled'],
  queue: [
    `started inbound ${CALLER} → 600`,
    'ringing 201 202 203',
    'answered 202',
    'ring_stopped 201 203',
    'ended completed',
  ],
  'click-to-call': ['started outbound 101 → +74957654321', 'ringing 101', 'answered 101', 'ended completed'],
  transfer: [
    `started inbound ${CALLER} → 200`,
    'transferred 102',
    'ringing 102',
    'answered 102',
    'ended completed',
  ],
  recording: [
    `started inbound ${CALLER} → 102`,
    'ringing 102',
    'answered 102',
    'ended completed',
    'recording',
  ],
  'repeated delivery': [`started inbound ${CALLER} → 101`, 'ringing 101', 'answered 101', 'ended completed'],
};

/**
 * A call's events as lines a person can compare. Adapters may split one moment into several
 * events (Asterisk reports each queue member's phone as it starts ringing; the simulator rings a
 * step at once), so consecutive ringing or ring_stopped events are read as one. Recordings count
 * only in the recording scenario: whether a PBX records a call is its configuration.
 */
export function story(events: readonly PbxEvent[], withRecording: boolean): string[] {
  const calls = new Set(events.map((e) => e.callId));
  const out: string[] = calls.size === 1 ? [] : [`${String(calls.size)} calls`];
  let merging = null as { type: string; set: Set<string> } | null;
  const flush = (): void => {
    if (merging === null) return;
    out.push(`${merging.type} ${[...merging.set].sort().join(' ')}`);
    merging = null;
  };
  for (const e of events) {
    if (e.type === 'call.ringing' || e.type === 'call.ring_stopped') {
      const type = e.type === 'call.ringing' ? 'ringing' : 'ring_stopped';
      if (merging?.type !== type) {
        flush();
        merging = { type, set: new Set() };
      }
      for (const x of e.extensions) merging.set.add(x);
      continue;
    }
    flush();
    switch (e.type) {
      case 'call.started':
        out.push(`started ${e.direction} ${e.from} → ${e.to}`);
        break;
      case 'call.answered':
        out.push(`answered ${e.extension}`);
        break;
      case 'call.transferred':
        out.push(`transferred ${e.to}`);
        break;
      case 'call.ended':
        out.push(`ended ${e.reason ?? '?'}`);
        break;
      case 'recording.ready':
        // A Bitrix24-acceptable file, wherever it is.
        if (withRecording)
          out.push(
            /\.(wav|mp3)$/i.test(e.filename ?? e.url ?? '') ? 'recording' : 'recording without a name',
          );
        break;
    }
  }
  flush();
  return out;
}

/**
 * The bridge's intake as the suite sees it: the outbox's contract (`accept`, `acceptMany`, a
 * repeated dedupe key stepped once, all or nothing per batch) without an engine behind it. Route
 * requests are answered with `plan`.
 */
export class JournalIntake implements EventIntake {
  readonly stepped: EngineInput[] = [];
  private readonly keys = new Set<string>();
  /** The next `refuse` batches fail as a store outage would (nothing stored). */
  refuse = 0;
  plan: (request: RouteRequested) => PlanStep[] = (r) => [{ extensions: [r.to], timeoutSec: 30 }];
  private waiters: (() => void)[] = [];

  accept(input: EngineInput, options: { dedupeKey?: string | undefined } = {}): Promise<AcceptResult> {
    return this.acceptMany([{ input, dedupeKey: options.dedupeKey }]);
  }

  acceptMany(
    inputs: readonly { input: EngineInput; dedupeKey?: string | undefined }[],
  ): Promise<AcceptResult> {
    if (this.refuse > 0) {
      this.refuse--;
      return Promise.reject(new StoreError('STORE_UNAVAILABLE', 'the store is unavailable (a test outage)'));
    }
    const pbx: PbxEffect[] = [];
    let duplicate = true;
    for (const { input, dedupeKey } of inputs) {
      if (dedupeKey !== undefined && this.keys.has(dedupeKey)) continue;
      if (dedupeKey !== undefined) this.keys.add(dedupeKey);
      duplicate = false;
      this.stepped.push(input);
      if (input.type === 'route.requested')
        pbx.push({ type: 'pbx.plan', callId: input.callId, plan: this.plan(input) });
    }
    for (const w of this.waiters.splice(0)) w();
    return Promise.resolve({ duplicate, pbx });
  }

  /** The PBX events stepped since `from`, in order. */
  events(from = 0): PbxEvent[] {
    return this.stepped
      .slice(from)
      .filter((i): i is PbxEvent => i.type.startsWith('call.') || i.type === 'recording.ready');
  }

  async until(test: (events: PbxEvent[]) => boolean): Promise<void> {
    while (!test(this.events())) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }
}

export function conformanceConfig(pbx: Record<string, unknown> = {}): BridgeConfig {
  const result = parseConfig({
    bitrix: { mode: 'webhook', url: 'https://portal.example/rest/1/conformance-hook/' },
    pbx: [{ id: 'office', token: PBX_TOKEN, ...pbx }],
  });
  if (!result.ok) throw result.error;
  return result.config;
}

export interface ConformanceDriver {
  /** Plays the scenario the adapter's own way; resolves with the PBX events the bridge stepped for it. */
  play(scenario: ScenarioName): Promise<readonly PbxEvent[]>;
  close(): Promise<void>;
}

/**
 * Registers the suite for one adapter. `leftOut` names scenarios an adapter cannot express, with
 * the reason; they are not registered (a test that cannot fail is no test).
 */
export function pbxConformance(
  name: string,
  open: () => Promise<ConformanceDriver>,
  leftOut: Partial<Record<ScenarioName, string>> = {},
): void {
  describe(`PBX adapter conformance: ${name}`, () => {
    let driver: ConformanceDriver;
    beforeAll(async () => {
      driver = await open();
    });
    afterAll(async () => {
      await driver.close();
    });
    for (const scenario of scenarioNames) {
      if (leftOut[scenario] !== undefined) continue;
      it(scenario, async () => {
        const events = await driver.play(scenario);
        expect(story(events, scenario === 'recording')).toEqual(expectedStories[scenario]);
        if (scenario === 'click-to-call')
          expect(new Set(events.map((e) => e.callId))).toEqual(new Set([clickToCall.callId]));
        // Time runs forward within a call, as the engine computes durations from it.
        const times = events.filter((e) => e.type !== 'recording.ready').map((e) => e.at);
        expect(times).toEqual([...times].sort((a, b) => a - b));
      });
    }
  });
}
