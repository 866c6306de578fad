/**
 * A small office for tests and examples (the emulator's seed portal: Admin 100, Anna 101,
 * Boris 102, Chen 103, a lobby phone 104 nobody is mapped to), and builders for timed inputs.
 * Pure, like the rest of the core.
 */
import type { EngineConfig } from './config.ts';
import type { EngineInput, EndReason, PbxEvent } from './inputs.ts';

export const T0 = 1_773_130_000_000;

/** Epoch ms `sec` seconds after T0. */
export const at = (sec: number): number => T0 + sec * 1000;

export const USERS = { admin: 1, anna: 2, boris: 3, chen: 4, elena: 6 } as const;

export const LINES = {
  sales: '+74950000001',
  support: '+74950000002',
  hotline: '+74950000003',
} as const;

const members = ['101', '102', '103'];

export const office: EngineConfig = {
  directory: [
    { extension: '100', userId: USERS.admin },
    { extension: '101', userId: USERS.anna },
    { extension: '102', userId: USERS.boris },
    { extension: '103', userId: USERS.chen },
    { extension: '104', userId: null },
  ],
  lines: [
    {
      id: 'sales',
      number: LINES.sales,
      routing: {
        kind: 'responsible',
        responsibleTimeoutSec: 20,
        then: { members, strategy: 'simultaneous', memberTimeoutSec: 20 },
      },
      leadCreation: 'inbound',
      crmSource: 'CALL',
    },
    {
      id: 'support',
      number: LINES.support,
      routing: { kind: 'queue', queue: { members, strategy: 'sequential', memberTimeoutSec: 5 } },
      leadCreation: 'all',
    },
    {
      id: 'hotline',
      number: LINES.hotline,
      calledNumbers: ['8800'],
      routing: {
        kind: 'queue',
        queue: { members: [...members, '104'], strategy: 'simultaneous', memberTimeoutSec: 20 },
      },
      missedCallUserId: USERS.admin,
    },
  ],
  defaultLine: { routing: { kind: 'direct' }, leadCreation: 'inbound', crmSource: 'CALL' },
  defaultUserId: USERS.admin,
  recording: { maxWaitSec: 60, hideGraceSec: 5 },
  maxCallSec: 0,
};

/** An input and the engine clock when it is stepped. */
export interface Timed {
  readonly now: number;
  readonly input: EngineInput;
}

type Event<T extends PbxEvent['type']> = Omit<Extract<PbxEvent, { type: T }>, 'type' | 'at' | 'callId'>;

/** PBX events happen at `sec` and reach the engine at once. */
function pbx<T extends PbxEvent['type']>(type: T, callId: string, sec: number, fields: Event<T>): Timed {
  return { now: at(sec), input: { type, callId, at: at(sec), ...fields } as EngineInput };
}

export const ev = {
  started: (callId: string, sec: number, from: string, to: string, line?: string): Timed =>
    pbx('call.started', callId, sec, {
      direction: 'inbound',
      from,
      to,
      ...(line === undefined ? {} : { line }),
    }),
  dialled: (callId: string, sec: number, from: string, to: string): Timed =>
    pbx('call.started', callId, sec, { direction: 'outbound', from, to }),
  ringing: (callId: string, sec: number, ...extensions: string[]): Timed =>
    pbx('call.ringing', callId, sec, { extensions }),
  ringStopped: (callId: string, sec: number, ...extensions: string[]): Timed =>
    pbx('call.ring_stopped', callId, sec, { extensions }),
  answered: (callId: string, sec: number, extension: string): Timed =>
    pbx('call.answered', callId, sec, { extension }),
  transferred: (callId: string, sec: number, to: string): Timed =>
    pbx('call.transferred', callId, sec, { to }),
  ended: (callId: string, sec: number, reason?: EndReason): Timed =>
    pbx('call.ended', callId, sec, reason === undefined ? {} : { reason }),
  recording: (callId: string, sec: number, url: string): Timed =>
    pbx('recording.ready', callId, sec, { url }),
  route: (callId: string, sec: number, from: string, to: string): Timed => ({
    now: at(sec),
    input: { type: 'route.requested', callId, from, to },
  }),
  registered: (
    callKey: string,
    sec: number,
    bitrixCallId: string,
    crm: [string, number] | null,
    createdLead = false,
  ): Timed => ({
    now: at(sec),
    input: {
      type: 'bitrix.registered',
      callKey,
      bitrixCallId,
      crmEntityType: crm?.[0] ?? '',
      crmEntityId: crm?.[1] ?? null,
      createdLead,
    },
  }),
  responsible: (callKey: string, sec: number, userId: number | null): Timed => ({
    now: at(sec),
    input: { type: 'bitrix.responsible', callKey, userId },
  }),
  timer: (timerId: string, sec: number): Timed => ({ now: at(sec), input: { type: 'timer.fired', timerId } }),
};
