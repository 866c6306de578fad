/**
 * The chaos office: the emulated portal's seed (an admin, 48 agents with extensions, CRM contacts
 * with their responsible managers), the bridge's configuration file against it (three lines: Sales
 * with the responsible manager first, a simultaneous queue, a sequential queue), and how the
 * simulated people behave. Calls are short in real time so that a thousand fit in minutes; every
 * figure compared at the end is measured on that same real time.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BridgeConfigInput } from '../src/config/index.ts';
import type { AgentSpec } from 'b24-pbx-simulator';

export const AGENTS = 48;
export const agentExtension = (i: number): string => String(201 + i);
export const agentUserId = (i: number): number => 2 + i;
export const extensions: readonly string[] = Array.from({ length: AGENTS }, (_, i) => agentExtension(i));
/** Extension → the portal's user: what the bridge reads from UF_PHONE_INNER, and what we judge by. */
export const userOfExtension: ReadonlyMap<string, number> = new Map(
  Array.from({ length: AGENTS }, (_, i) => [agentExtension(i), agentUserId(i)]),
);
export const ADMIN_USER_ID = 1;

/** The lines: S3 (known caller → manager), S2a and S2b. */
export const lines = {
  sales: '+74950000001',
  support: '+74950000002',
  queue: '+74950000003',
} as const;

const members = (from: number, count: number): string[] =>
  Array.from({ length: count }, (_, i) => agentExtension(from + i));
export const salesMembers = members(0, 12);
export const queueMembers = members(12, 12);
export const supportMembers = members(24, 8);

/** CRM contacts, each with a responsible manager among the agents (the first 24: Sales' people). */
export const KNOWN_CALLERS = 24;
export const knownCaller = (i: number): string => `+7495100${String(1000 + i).padStart(4, '0')}`;
export const responsibleOf = (i: number): number => agentUserId((i * 7) % 24);

export const PORTAL_MEMBER_ID = 'chaos-member-1';

export function writeSeed(dir: string): string {
  const users = [
    { id: ADMIN_USER_ID, name: 'Admin', extension: '100', admin: true, email: 'admin@example.com' },
    ...Array.from({ length: AGENTS }, (_, i) => ({
      id: agentUserId(i),
      name: `Agent ${i}`,
      lastName: 'Chaos',
      extension: agentExtension(i),
      email: `agent${i}@example.com`,
    })),
  ];
  const contacts = Array.from({ length: KNOWN_CALLERS }, (_, i) => ({
    id: i + 1,
    name: `Customer ${i}`,
    lastName: 'Known',
    phones: [knownCaller(i)],
    assignedById: responsibleOf(i),
  }));
  const path = join(dir, 'seed.json');
  writeFileSync(path, JSON.stringify({ memberId: PORTAL_MEMBER_ID, users, contacts }));
  return path;
}

/** Quick and mostly willing: a queue moves on when someone does not pick up. */
export const agents: readonly AgentSpec[] = extensions.map((extension) => ({
  extension,
  answerProbability: 0.85,
  answerAfterSec: [1, 3],
}));

/** How the simulated calls go (seconds, real time). */
export const callShape = {
  talkSec: [2, 9],
  callerPatienceSec: [12, 25],
  recordingDelaySec: [0.3, 1.5],
  transferRingSec: 8,
  originatePickupSec: [0.5, 1.5],
  callee: { answerProbability: 0.9, answerAfterSec: [1, 3], ringTimeoutSec: 15 },
} as const;

export interface BridgeFiles {
  configPath: string;
  sqlitePath: string;
  clientId: string;
  /** Every secret of the configuration: none may appear in the bridge's log. */
  clientSecret: string;
  pbxToken: string;
  adminPassword: string;
  adminToken: string;
  url: string;
}

const secret = (label: string): string => `${label}-${randomBytes(16).toString('hex')}`;

/**
 * The configuration file of `b24-bridge serve`: the bridge as an app of the emulated portal (its
 * OAuth server and its public URL both behind the run's proxies, which note the tokens), one PBX,
 * the office's lines.
 */
export function writeBridgeConfig(
  dir: string,
  port: number,
  urls: { oauth: string; public: string },
  logLevel: 'debug' | 'info' | 'warn',
  offline?: { clickFreshSec: number },
): BridgeFiles {
  const clientId = 'local.b24bridge.chaos';
  const files = {
    clientSecret: secret('client'),
    pbxToken: secret('pbx'),
    adminPassword: secret('admin'),
    adminToken: secret('admintoken'),
  };
  const sqlitePath = join(dir, 'bridge.sqlite');
  const url = `http://127.0.0.1:${port}`;
  const doc: BridgeConfigInput = {
    // Push: the portal reaches the bridge through the public URL (our proxy), the PBX at `url`.
    // Outbound-only: no public URL at all; the bridge reads the portal's offline event queue.
    server: offline ? { host: '127.0.0.1', port } : { host: '127.0.0.1', port, publicUrl: urls.public },
    store: { kind: 'sqlite', path: sqlitePath },
    bitrix: {
      mode: 'app',
      clientId,
      clientSecret: files.clientSecret,
      oauthUrl: urls.oauth,
      // Few, quick tries: the outbox, not the client, waits out an outage (as in the e2e tests).
      retry: { maxAttempts: 2, minDelayMs: 100, maxDelayMs: 500 },
      ...(offline ? { events: 'offline' as const, offline: { clickFreshSec: offline.clickFreshSec } } : {}),
    },
    // The simulated office serves its recordings on the loopback: allowed by name.
    pbx: [{ id: 'chaos', token: files.pbxToken, kind: 'webhook', recordingHosts: ['127.0.0.1'] }],
    engine: {
      defaultUserId: ADMIN_USER_ID,
      lines: [
        {
          id: 'sales',
          name: 'Sales',
          number: lines.sales,
          routing: {
            kind: 'responsible',
            responsibleTimeoutSec: 6,
            then: { members: salesMembers, strategy: 'simultaneous', memberTimeoutSec: 8 },
          },
          leadCreation: 'inbound',
          crmSource: 'CALL',
        },
        {
          id: 'queue',
          name: 'Queue',
          number: lines.queue,
          routing: {
            kind: 'queue',
            queue: { members: queueMembers, strategy: 'simultaneous', memberTimeoutSec: 8 },
          },
          leadCreation: 'inbound',
          crmSource: 'CALL',
        },
        {
          id: 'support',
          name: 'Support',
          number: lines.support,
          routing: {
            kind: 'queue',
            queue: { members: supportMembers, strategy: 'sequential', memberTimeoutSec: 3 },
          },
          leadCreation: 'inbound',
          crmSource: 'CALL',
        },
      ],
      // Recordings come within 2 s of the hang-up; a minute covers a bridge restart or two.
      recording: { maxWaitSec: 60, hideGraceSec: 2 },
    },
    admin: { password: files.adminPassword, token: files.adminToken },
    logging: { level: logLevel, format: 'json' },
  };
  const configPath = join(dir, 'bridge.json');
  writeFileSync(configPath, JSON.stringify(doc, null, 2), { mode: 0o600 });
  return { ...files, configPath, sqlitePath, clientId, url };
}
