/**
 * The benchmark office: the emulated portal's seed (an admin and many agents, each with an
 * extension) and the bridge's configuration against it.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEMO_PBX_TOKEN, demoDocument, type BridgeConfigInput } from '../src/config/index.ts';

/** Enough agents that no agent has two calls at once at the highest rate stepped to. */
export const AGENTS = 1000;
export const agentExtension = (i: number): string => String(1000 + (i % AGENTS));
export const agentUserId = (i: number): number => 2 + (i % AGENTS);
export const directory = (): Record<string, number> =>
  Object.fromEntries(Array.from({ length: AGENTS }, (_, i) => [agentExtension(i), agentUserId(i)]));

/** The simultaneous queue of S2a, ten members. */
export const QUEUE_LINE = '+74950000010';
export const QUEUE_MEMBERS = Array.from({ length: 10 }, (_, i) => agentExtension(i));

/** The responsible-manager line of S3: a known caller's manager first, then the queue of ten. */
export const SALES_LINE = '+74950000020';
/** The CRM's clients the route figure calls from, each with an agent responsible for them. */
export const CLIENTS = 200;
export const clientPhone = (i: number): string => `+7926${String(1_000_000 + i).padStart(7, '0')}`;
/** Client i is contact 1000 + i, and agent (i + 50)'s: outside the queue, so their phone is free. */
export const clientContactId = (i: number): number => 1000 + i;
export const clientManager = (i: number): number => i + 50;

export const PBX_TOKEN = DEMO_PBX_TOKEN;
export const BENCH_WEBHOOK_SECRET = 'bench';

export function writeSeed(dir: string): string {
  const users = [
    { id: 1, name: 'Admin', extension: '100', admin: true, email: 'admin@example.com' },
    ...Array.from({ length: AGENTS }, (_, i) => ({
      id: agentUserId(i),
      name: `Agent ${i}`,
      lastName: 'Bench',
      extension: agentExtension(i),
      email: `agent${i}@example.com`,
    })),
  ];
  const path = join(dir, 'seed.json');
  // The webhook lets the bench fill the portal's bucket (the naive baseline's steady state).
  const webhooks = [{ userId: 1, secret: BENCH_WEBHOOK_SECRET }];
  const contacts = Array.from({ length: CLIENTS }, (_, i) => ({
    id: clientContactId(i),
    name: `Client ${i}`,
    phones: [clientPhone(i)],
    assignedById: agentUserId(clientManager(i)),
  }));
  writeFileSync(path, JSON.stringify({ memberId: 'bench-member-1', users, webhooks, contacts }));
  return path;
}

export interface BridgeSetup {
  configPath: string;
  clientId: string;
  clientSecret: string;
}

export interface BridgeShape {
  /** The bridge's mirror of the portal's bucket; `null`: the portal's limit is off for this run. */
  rateLimit: { rate: number; burst: number } | null;
  /** A simultaneous queue line of ten agents (S2a). */
  queue?: boolean;
  /** The responsible-manager line (S3), its queue the ten agents. */
  sales?: boolean;
  /** Finish at hang-up without waiting for a recording (the replay's calls have none). */
  noRecordingWait?: boolean;
  /**
   * Outbound-only mode: the portal cannot reach the bridge, which reads its offline event queue
   * (`bitrix.events: "offline"`, its default pace) and is installed from its app page.
   */
  events?: 'offline';
}

/** The configuration file of a bridge against the emulator at `emulatorUrl`. */
export function writeBridgeConfig(emulatorUrl: string, dir: string, shape: BridgeShape): BridgeSetup {
  const clientId = 'local.b24bridge.bench';
  const clientSecret = randomBytes(24).toString('hex');
  const doc = bridgeDocument(emulatorUrl, dir, shape, clientId, clientSecret);
  const configPath = join(dir, 'bridge.json');
  writeFileSync(configPath, JSON.stringify(doc, null, 2), { mode: 0o600 });
  return { configPath, clientId, clientSecret };
}

/** The bench bridge's configuration document. */
export function bridgeDocument(
  emulatorUrl: string,
  dir: string,
  shape: BridgeShape,
  clientId = 'local.b24bridge.bench',
  clientSecret = 'bench-secret-0123456789abcdef',
): BridgeConfigInput {
  const doc: BridgeConfigInput = demoDocument({
    clientId,
    clientSecret,
    oauthUrl: `${emulatorUrl}/oauth/token/`,
    port: 3000,
    simulator: false,
    sqlitePath: join(dir, 'bridge.sqlite'),
  });
  // The bridge listens on a free port: recordings are served from where it listens.
  doc.server = { host: '127.0.0.1', port: 3000 };
  // The bench's PBX serves its recordings on the loopback: allowed by name.
  doc.pbx = doc.pbx.map((p) => ({ ...p, recordingHosts: ['127.0.0.1'] }));
  doc.bitrix = {
    mode: 'app',
    clientId,
    clientSecret,
    oauthUrl: `${emulatorUrl}/oauth/token/`,
    // Push: posted to where the bridge listens (the portal reaches it on the loopback). Offline:
    // the bridge reads the portal's queue at its default pace.
    events: shape.events ?? 'push',
    // The limit "off" is a bucket far larger than anything the run sends.
    rateLimit: shape.rateLimit ?? { rate: 1_000_000, burst: 1_000_000 },
    // As the e2e tests: a short client retry hands an outage to the outbox soon.
    retry: { maxAttempts: 2, minDelayMs: 100, maxDelayMs: 500 },
  };
  doc.engine = {
    defaultUserId: 1,
    lines: [
      ...(shape.queue
        ? [
            {
              id: 'queue',
              name: 'Queue of ten',
              number: QUEUE_LINE,
              routing: {
                kind: 'queue' as const,
                queue: { members: QUEUE_MEMBERS, strategy: 'simultaneous' as const, memberTimeoutSec: 30 },
              },
            },
          ]
        : []),
      ...(shape.sales
        ? [
            {
              id: 'sales',
              name: 'Sales',
              number: SALES_LINE,
              routing: {
                kind: 'responsible' as const,
                responsibleTimeoutSec: 20,
                then: { members: QUEUE_MEMBERS, strategy: 'simultaneous' as const, memberTimeoutSec: 20 },
              },
            },
          ]
        : []),
    ],
    ...(shape.noRecordingWait ? { recording: { maxWaitSec: 0, hideGraceSec: 0 } } : {}),
  };
  // Production-like logging: warnings only, as JSON (pretty printing would cost the bridge CPU).
  doc.logging = { level: 'warn', format: 'json' };
  return doc;
}
