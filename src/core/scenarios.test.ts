import { describe, expect, it } from 'vitest';
import type { EngineConfig, LineConfig } from './config.ts';
import type { Effect, PlanStep, RegisterEffect, StatusCode } from './effects.ts';
import type { CallStarted, KnownCaller, RouteRequested } from './inputs.ts';
import { createEngine } from './engine.ts';
import { CardLedger } from './ledger.ts';
import { allCalls, getCall, shardOf } from './state.ts';
import { at, ev, LINES, office, USERS, type Timed } from './testkit.ts';

// Expected effects, spelled out: `<callKey>:<n>` op ids, timers `<callKey>#<name>`.
const key = (callId: string, sec: number) => `${callId}@${at(sec)}`;
const op = (k: string, n: number, b?: string) => ({
  opId: `${k}:${n}`,
  callKey: k,
  ...(b === undefined ? {} : { bitrixCallId: b }),
});
type RegisterFields = Omit<RegisterEffect, 'type' | 'opId' | 'callKey' | 'bitrixCallId' | 'externalCallId'>;
const register = (k: string, n: number, f: RegisterFields): Effect => ({
  type: 'bitrix.register',
  ...op(k, n),
  ...f,
  externalCallId: k,
});
const show = (k: string, n: number, b: string | undefined, userIds: number[]): Effect => ({
  type: 'bitrix.show',
  ...op(k, n, b),
  userIds,
});
const hide = (k: string, n: number, b: string | undefined, userIds: number[]): Effect => ({
  type: 'bitrix.hide',
  ...op(k, n, b),
  userIds,
});
const finish = (
  k: string,
  n: number,
  b: string | undefined,
  userId: number,
  durationSec: number,
  statusCode: StatusCode,
  failedReason?: string,
): Effect => ({
  type: 'bitrix.finish',
  ...op(k, n, b),
  userId,
  durationSec,
  statusCode,
  ...(failedReason === undefined ? {} : { failedReason }),
});
const attach = (k: string, n: number, b: string | undefined, url: string): Effect => ({
  type: 'bitrix.attachRecord',
  ...op(k, n, b),
  filename: url.slice(url.lastIndexOf('/') + 1),
  url,
});
const find = (k: string, n: number, b: string, phoneNumber: string, type: string, id: number): Effect => ({
  type: 'bitrix.findResponsible',
  ...op(k, n, b),
  phoneNumber,
  crmEntityType: type,
  crmEntityId: id,
});
const plan = (callId: string, ...steps: PlanStep[]): Effect => ({ type: 'pbx.plan', callId, plan: steps });
const step = (timeoutSec: number, ...extensions: string[]): PlanStep => ({ extensions, timeoutSec });
const transfer = (k: string, n: number, callId: string, extension: string): Effect => ({
  type: 'pbx.transfer',
  commandId: `${k}:${n}`,
  callKey: k,
  callId,
  extension,
});
const originate = (k: string, n: number, callId: string, extension: string, number: string): Effect => ({
  type: 'pbx.originate',
  commandId: `${k}:${n}`,
  callKey: k,
  callId,
  extension,
  number,
});
const timer = (k: string, name: string, sec: number): Effect => ({
  type: 'timer.start',
  timerId: `${k}#${name}`,
  at: at(sec),
});
const cancel = (k: string, name: string): Effect => ({ type: 'timer.cancel', timerId: `${k}#${name}` });

const CALLER = '+79990001111';
const CLIENT = '+79161234567'; // a contact in the CRM, Boris (102) is responsible
const REC = (name: string) => `https://pbx.example/rec/${name}.mp3`;

interface Scenario {
  name: string;
  config?: EngineConfig;
  /** Click-to-call: the card the portal showed before the engine heard of the call. */
  portalCard?: [string, number];
  /** Steps emitting Bitrix operations: one request each when the outbox batches a step's output. */
  requests?: Record<string, number>;
  steps: [Timed, Effect[]][];
}

function withLine(id: string, change: (line: LineConfig) => LineConfig, base: EngineConfig = office) {
  return { ...base, lines: base.lines.map((l) => (l.id === id ? change(l) : l)) };
}

const inbound = (startSec: number, phoneNumber: string, line?: string) => ({
  phoneNumber,
  callType: 2 as const,
  ...(line === undefined ? {} : { lineNumber: line }),
  callStartDate: at(startSec),
});

const c1 = key('c1', 0);
const o1 = key('o1', 0);
const q1 = key('q1', 10);
const s1 = key('s1', 0);
const r1 = key('r1', 0);
const r1b = key('r1', 1);
const m1 = key('m1', 0);
const C2C = 'externalCall.8e2fc1.1773130000';
const c2c = key(`c2c.${C2C}`, 0);
const cb = key('cb.0', 0);

const directStart: [Timed, Effect[]][] = [
  [ev.started('c1', 0, CALLER, '101'), []],
  [ev.route('c1', 0, CALLER, '101'), [plan('c1', step(30, '101'))]],
  [
    ev.ringing('c1', 1, '101'),
    [
      register(c1, 0, {
        ...inbound(0, CALLER),
        userId: USERS.anna,
        show: true,
        crmCreate: true,
        crmSource: 'CALL',
      }),
    ],
  ],
  [ev.registered(c1, 1, 'B1', ['LEAD', 5012], true), []],
  [ev.answered('c1', 5, '101'), []],
];

/** Boris (102) talks on another call `o1` from second 0. */
const borisBusy: [Timed, Effect[]][] = [
  [ev.started('o1', 0, '+79990000001', '102'), []],
  [
    ev.ringing('o1', 0, '102'),
    [
      register(o1, 0, {
        ...inbound(0, '+79990000001'),
        userId: USERS.boris,
        show: true,
        crmCreate: true,
        crmSource: 'CALL',
      }),
    ],
  ],
  [ev.answered('o1', 0, '102'), []],
];
const borisHangsUp = (sec: number): [Timed, Effect[]][] => [
  [ev.recording('o1', sec, REC('o1')), []],
  [
    ev.ended('o1', sec, 'completed'),
    [finish(o1, 1, undefined, USERS.boris, sec, '200'), attach(o1, 2, undefined, REC('o1'))],
  ],
];

/** What the CRM phone index knows of CLIENT: contact 1, Boris responsible, at work unless said. */
const indexed = (timemanStatus: string | null = 'OPENED'): KnownCaller => ({
  crmEntityType: 'CONTACT',
  crmEntityId: 1,
  userId: USERS.boris,
  timemanStatus,
});
const knownStart = (callId: string, sec: number, caller: KnownCaller): Timed => {
  const t = ev.started(callId, sec, CLIENT, LINES.sales, LINES.sales);
  return { ...t, input: { ...(t.input as CallStarted), caller } };
};
const knownRoute = (callId: string, sec: number, caller: KnownCaller): Timed => {
  const t = ev.route(callId, sec, CLIENT, LINES.sales);
  return { ...t, input: { ...(t.input as RouteRequested), caller } };
};
/** A sales call's register with the card, for the first user its phone rings for. */
const salesCard = (k: string, n: number, userId: number): Effect =>
  register(k, n, {
    ...inbound(0, CLIENT, LINES.sales),
    userId,
    show: true,
    crmCreate: true,
    crmSource: 'CALL',
  });
/** No default user: a call nobody else qualifies for goes to the portal's installer (Admin). */
const { defaultUserId: _unused, ...officeWithoutDefault } = office;
const installerOnly: EngineConfig = { ...officeWithoutDefault, installerUserId: USERS.admin };
const unrung = (k: string, startSec: number, userId: number, phone = CALLER, line?: string): Effect =>
  register(k, 0, {
    ...inbound(startSec, phone, line),
    userId,
    show: false,
    crmCreate: line === LINES.support || line === undefined,
    ...(line === undefined ? { crmSource: 'CALL' } : {}),
  });

const salesRegister = (k: string, startSec: number): Effect =>
  register(k, 0, {
    ...inbound(startSec, CLIENT, LINES.sales),
    userId: USERS.admin,
    show: false,
    crmCreate: true,
    crmSource: 'CALL',
  });

const scenarios: Scenario[] = [
  {
    name: 'S1 direct call: the card pops with register, the recording within the grace lets finish hide it',
    requests: { c1: 2 },
    steps: [
      ...directStart,
      [ev.ended('c1', 95, 'completed'), [timer(c1, 'grace', 100), timer(c1, 'recording', 155)]],
      [
        ev.recording('c1', 97, REC('c1')),
        [
          cancel(c1, 'grace'),
          cancel(c1, 'recording'),
          finish(c1, 1, 'B1', USERS.anna, 90, '200'),
          attach(c1, 2, 'B1', REC('c1')),
        ],
      ],
    ],
  },
  {
    name: 'S2a simultaneous queue: free mapped members only, register + one show, hide the rest on answer',
    requests: { q1: 3 },
    steps: [
      ...borisBusy,
      [ev.started('q1', 10, CALLER, '8800'), []],
      [ev.route('q1', 10, CALLER, '8800'), [plan('q1', step(20, '101', '103'))]],
      [
        ev.ringing('q1', 10, '101', '103'),
        [
          register(q1, 0, {
            ...inbound(10, CALLER, LINES.hotline),
            userId: USERS.anna,
            show: true,
            crmCreate: false,
          }),
          show(q1, 1, undefined, [USERS.chen]),
        ],
      ],
      [ev.registered(q1, 10, 'B2', null), []],
      [ev.answered('q1', 14, '103'), [hide(q1, 2, 'B2', [USERS.anna])]],
      [ev.ended('q1', 74, 'completed'), [timer(q1, 'grace', 79), timer(q1, 'recording', 134)]],
      [
        ev.recording('q1', 76, REC('q1')),
        [
          cancel(q1, 'grace'),
          cancel(q1, 'recording'),
          finish(q1, 3, 'B2', USERS.chen, 60, '200'),
          attach(q1, 4, 'B2', REC('q1')),
        ],
      ],
      ...borisHangsUp(80),
    ],
  },
  {
    name: 'S2b sequential queue: each member in turn, hide + show at every step',
    steps: [
      [ev.started('s1', 0, CALLER, LINES.support, LINES.support), []],
      [
        ev.route('s1', 0, CALLER, LINES.support),
        [plan('s1', step(5, '101'), step(5, '102'), step(5, '103'))],
      ],
      [
        ev.ringing('s1', 0, '101'),
        [
          register(s1, 0, {
            ...inbound(0, CALLER, LINES.support),
            userId: USERS.anna,
            show: true,
            crmCreate: true,
          }),
        ],
      ],
      [ev.ringStopped('s1', 5, '101'), [hide(s1, 1, undefined, [USERS.anna])]],
      [ev.ringing('s1', 5, '102'), [show(s1, 2, undefined, [USERS.boris])]],
      [ev.ringStopped('s1', 10, '102'), [hide(s1, 3, undefined, [USERS.boris])]],
      [ev.ringing('s1', 10, '103'), [show(s1, 4, undefined, [USERS.chen])]],
      [ev.answered('s1', 12, '103'), []],
      // S5, the recording before the hang-up: finish and attach at once.
      [ev.recording('s1', 40, REC('s1')), []],
      [
        ev.ended('s1', 42),
        [finish(s1, 5, undefined, USERS.chen, 30, '200'), attach(s1, 6, undefined, REC('s1'))],
      ],
    ],
  },
  {
    name: 'S2b sequential queue skips a member on another call',
    steps: [
      ...borisBusy,
      [ev.started('s1', 0, CALLER, LINES.support, LINES.support), []],
      [ev.route('s1', 0, CALLER, LINES.support), [plan('s1', step(5, '101'), step(5, '103'))]],
      [
        ev.ended('s1', 3, 'cancelled'),
        [
          register(s1, 0, {
            ...inbound(0, CALLER, LINES.support),
            userId: USERS.admin,
            show: false,
            crmCreate: true,
          }),
          finish(s1, 1, undefined, USERS.admin, 0, '304'),
        ],
      ],
      ...borisHangsUp(9),
    ],
  },
  {
    name: 'S3 known caller: register without a card, find the manager, transfer there and show the card',
    steps: [
      [ev.started('r1', 0, CLIENT, LINES.sales, LINES.sales), [salesRegister(r1, 0)]],
      [ev.registered(r1, 1, 'B3', ['CONTACT', 1]), [find(r1, 1, 'B3', CLIENT, 'CONTACT', 1)]],
      [
        ev.responsible(r1, 1, USERS.boris),
        [transfer(r1, 2, 'r1', '102'), show(r1, 3, 'B3', [USERS.boris]), timer(r1, 'responsible', 21)],
      ],
      [ev.ringing('r1', 2, '102'), []],
      [ev.answered('r1', 4, '102'), [cancel(r1, 'responsible')]],
      [ev.recording('r1', 60, REC('r1')), []],
      [ev.ended('r1', 64), [finish(r1, 4, 'B3', USERS.boris, 60, '200'), attach(r1, 5, 'B3', REC('r1'))]],
    ],
  },
  {
    name: 'S3 with the manager busy: no transfer, the queue rings the other free members',
    steps: [
      ...borisBusy,
      [ev.started('r1', 1, CLIENT, LINES.sales, LINES.sales), [salesRegister(r1b, 1)]],
      [ev.registered(r1b, 1, 'B3', ['CONTACT', 1]), [find(r1b, 1, 'B3', CLIENT, 'CONTACT', 1)]],
      [ev.responsible(r1b, 1, USERS.boris), []],
      [ev.route('r1', 2, CLIENT, LINES.sales), [plan('r1', step(20, '101', '103'))]],
      [ev.ringing('r1', 2, '101', '103'), [show(r1b, 2, 'B3', [USERS.anna, USERS.chen])]],
      [ev.answered('r1', 5, '103'), [hide(r1b, 3, 'B3', [USERS.anna])]],
      [ev.recording('r1', 30, REC('r1')), []],
      [ev.ended('r1', 35), [finish(r1b, 4, 'B3', USERS.chen, 30, '200'), attach(r1b, 5, 'B3', REC('r1'))]],
      ...borisHangsUp(40),
    ],
  },
  {
    name: 'S3 with a manager who does not answer: the engine hunts through the free queue members',
    steps: [
      [ev.started('r1', 0, CLIENT, LINES.sales, LINES.sales), [salesRegister(r1, 0)]],
      [ev.registered(r1, 1, 'B3', ['CONTACT', 1]), [find(r1, 1, 'B3', CLIENT, 'CONTACT', 1)]],
      [
        ev.responsible(r1, 1, USERS.boris),
        [transfer(r1, 2, 'r1', '102'), show(r1, 3, 'B3', [USERS.boris]), timer(r1, 'responsible', 21)],
      ],
      [ev.ringing('r1', 2, '102'), []],
      [
        ev.timer(`${r1}#responsible`, 21),
        [
          hide(r1, 4, 'B3', [USERS.boris]),
          transfer(r1, 5, 'r1', '101'),
          show(r1, 6, 'B3', [USERS.anna]),
          timer(r1, 'hunt.0', 41),
        ],
      ],
      [ev.ringStopped('r1', 21, '102'), []],
      [ev.ringing('r1', 21, '101'), []],
      [
        ev.timer(`${r1}#hunt.0`, 41),
        [
          hide(r1, 7, 'B3', [USERS.anna]),
          transfer(r1, 8, 'r1', '103'),
          show(r1, 9, 'B3', [USERS.chen]),
          timer(r1, 'hunt.1', 61),
        ],
      ],
      [ev.answered('r1', 45, '103'), [cancel(r1, 'hunt.1')]],
      [ev.recording('r1', 74, REC('r1')), []],
      [ev.ended('r1', 75), [finish(r1, 10, 'B3', USERS.chen, 30, '200'), attach(r1, 11, 'B3', REC('r1'))]],
    ],
  },
  {
    name: 'S3 manager declines: the call goes back to the PBX queue number, whose ringing the cards mirror',
    config: withLine('sales', (l) =>
      l.routing.kind === 'responsible'
        ? { ...l, routing: { ...l.routing, then: { ...l.routing.then, extension: '600' } } }
        : l,
    ),
    steps: [
      [ev.started('r1', 0, CLIENT, LINES.sales, LINES.sales), [salesRegister(r1, 0)]],
      [ev.registered(r1, 1, 'B3', ['CONTACT', 1]), [find(r1, 1, 'B3', CLIENT, 'CONTACT', 1)]],
      [
        ev.responsible(r1, 1, USERS.boris),
        [transfer(r1, 2, 'r1', '102'), show(r1, 3, 'B3', [USERS.boris]), timer(r1, 'responsible', 21)],
      ],
      [
        ev.ringStopped('r1', 6, '102'),
        [hide(r1, 4, 'B3', [USERS.boris]), cancel(r1, 'responsible'), transfer(r1, 5, 'r1', '600')],
      ],
      [ev.ringing('r1', 7, '101', '102', '103'), [show(r1, 6, 'B3', [USERS.anna, USERS.boris, USERS.chen])]],
      // No missed-call user on this line: the last member rung gets it.
      [
        ev.ended('r1', 12, 'cancelled'),
        [hide(r1, 7, 'B3', [USERS.anna, USERS.boris]), finish(r1, 8, 'B3', USERS.chen, 0, '304')],
      ],
    ],
  },
  {
    name: 'S3 when the PBX asks for a plan after the manager is known: the manager first, then the queue',
    steps: [
      [ev.started('r1', 0, CLIENT, LINES.sales, LINES.sales), [salesRegister(r1, 0)]],
      [ev.registered(r1, 0, 'B3', ['CONTACT', 1]), [find(r1, 1, 'B3', CLIENT, 'CONTACT', 1)]],
      [
        ev.responsible(r1, 0, USERS.boris),
        [transfer(r1, 2, 'r1', '102'), show(r1, 3, 'B3', [USERS.boris]), timer(r1, 'responsible', 20)],
      ],
      [
        ev.route('r1', 1, CLIENT, LINES.sales),
        [cancel(r1, 'responsible'), plan('r1', step(20, '102'), step(20, '101', '103'))],
      ],
      [ev.ringStopped('r1', 21, '102'), [hide(r1, 4, 'B3', [USERS.boris])]],
      [ev.ringing('r1', 21, '101', '103'), [show(r1, 5, 'B3', [USERS.anna, USERS.chen])]],
      [ev.answered('r1', 23, '101'), [hide(r1, 6, 'B3', [USERS.chen])]],
      [ev.recording('r1', 50, REC('r1')), []],
      [ev.ended('r1', 53), [finish(r1, 7, 'B3', USERS.anna, 30, '200'), attach(r1, 8, 'B3', REC('r1'))]],
    ],
  },
  {
    name: 'S3 with a new lead (unknown number): no manager to look for, the queue takes it',
    steps: [
      [ev.started('r1', 0, CLIENT, LINES.sales, LINES.sales), [salesRegister(r1, 0)]],
      [ev.registered(r1, 1, 'B3', ['LEAD', 77], true), []],
      [ev.ringing('r1', 2, '101'), [show(r1, 1, 'B3', [USERS.anna])]],
      [ev.ended('r1', 9, 'no_answer'), [finish(r1, 2, 'B3', USERS.anna, 0, '304')]],
    ],
  },
  {
    name: 'S3 whose lookup fails for good: no transfer, the queue takes the call',
    steps: [
      [ev.started('r1', 0, CLIENT, LINES.sales, LINES.sales), [salesRegister(r1, 0)]],
      [ev.registered(r1, 1, 'B3', ['CONTACT', 1]), [find(r1, 1, 'B3', CLIENT, 'CONTACT', 1)]],
      [
        {
          now: at(5),
          input: { type: 'bitrix.failed', callKey: r1, opId: `${r1}:1`, operation: 'bitrix.findResponsible' },
        },
        [],
      ],
      [ev.responsible(r1, 6, USERS.boris), []],
      [ev.route('r1', 6, CLIENT, LINES.sales), [plan('r1', step(20, '101', '102', '103'))]],
      [ev.ended('r1', 8, 'cancelled'), [finish(r1, 2, 'B3', USERS.admin, 0, '304')]],
    ],
  },
  {
    name: 'seed 1204922682: a transfer target whose phone stops ringing loses the card; the call stays with who answered',
    steps: [
      [ev.started('r1', 0, CLIENT, LINES.sales, LINES.sales), [salesRegister(r1, 0)]],
      [ev.ringing('r1', 0, '101'), [show(r1, 1, undefined, [USERS.anna])]],
      [ev.answered('r1', 0, '101'), []],
      [ev.registered(r1, 0, 'B3', ['CONTACT', 1]), []],
      [ev.transferred('r1', 0, '100'), [hide(r1, 2, 'B3', [USERS.anna]), show(r1, 3, 'B3', [USERS.admin])]],
      [ev.ringStopped('r1', 0, '100'), [hide(r1, 4, 'B3', [USERS.admin])]],
      [ev.ended('r1', 30), [timer(r1, 'recording', 90)]],
      [ev.timer(`${r1}#recording`, 90), [finish(r1, 5, 'B3', USERS.anna, 30, '200')]],
    ],
  },
  {
    name: 'an attended transfer: the target sees the card while it rings, and takes the call by answering',
    steps: [
      ...directStart,
      [ev.ringing('c1', 20, '102'), [show(c1, 1, 'B1', [USERS.boris])]],
      [ev.answered('c1', 24, '102'), [hide(c1, 2, 'B1', [USERS.anna])]],
      [ev.transferred('c1', 30, '102'), []],
      [ev.ended('c1', 65), [timer(c1, 'grace', 70), timer(c1, 'recording', 125)]],
      [ev.timer(`${c1}#grace`, 70), [hide(c1, 3, 'B1', [USERS.boris])]],
      [ev.timer(`${c1}#recording`, 125), [finish(c1, 4, 'B1', USERS.boris, 60, '200')]],
    ],
  },
  {
    name: 'an attended transfer the target does not pick up: their card goes, the call stays where it was',
    config: { ...office, recording: { maxWaitSec: 0, hideGraceSec: 0 } },
    steps: [
      ...directStart,
      [ev.ringing('c1', 20, '102'), [show(c1, 1, 'B1', [USERS.boris])]],
      [ev.ringStopped('c1', 35, '102'), [hide(c1, 2, 'B1', [USERS.boris])]],
      [ev.ended('c1', 65), [finish(c1, 3, 'B1', USERS.anna, 60, '200')]],
    ],
  },
  {
    name: 'S3 from the index, the PBX asks for a plan: the manager first, and their card first and alone',
    steps: [
      [knownStart('r1', 0, indexed()), [timer(r1, 'route', 1)]],
      [
        knownRoute('r1', 0, indexed()),
        [cancel(r1, 'route'), plan('r1', step(20, '102'), step(20, '101', '103'))],
      ],
      [ev.ringing('r1', 0, '102'), [salesCard(r1, 0, USERS.boris)]],
      [ev.registered(r1, 1, 'B3', ['CONTACT', 1]), []],
      [ev.answered('r1', 4, '102'), []],
      [ev.recording('r1', 60, REC('r1')), []],
      [ev.ended('r1', 64), [finish(r1, 1, 'B3', USERS.boris, 60, '200'), attach(r1, 2, 'B3', REC('r1'))]],
    ],
  },
  {
    name: 'S3 from the index on a PBX that rings its queue by itself: moved to the manager, the members never see the card',
    steps: [
      [knownStart('r1', 0, indexed()), [timer(r1, 'route', 1)]],
      [
        ev.ringing('r1', 0, '101', '102', '103'),
        [
          cancel(r1, 'route'),
          transfer(r1, 0, 'r1', '102'),
          salesCard(r1, 1, USERS.boris),
          timer(r1, 'responsible', 20),
        ],
      ],
      // The queue's ringing of 102 ends as the transfer takes the call: the echo, not a no.
      [ev.ringStopped('r1', 0, '101', '102', '103'), []],
      [ev.transferred('r1', 0, '102'), []],
      [ev.ringing('r1', 0, '102'), []],
      [ev.registered(r1, 1, 'B3', ['CONTACT', 1]), []],
      [ev.answered('r1', 3, '102'), [cancel(r1, 'responsible')]],
      [ev.recording('r1', 40, REC('r1')), []],
      [ev.ended('r1', 43), [finish(r1, 2, 'B3', USERS.boris, 40, '200'), attach(r1, 3, 'B3', REC('r1'))]],
    ],
  },
  {
    name: 'S3 from the index on a PBX that neither asks nor rings: the engine transfers the call after routeWaitSec',
    steps: [
      [knownStart('r1', 0, indexed()), [timer(r1, 'route', 1)]],
      [
        ev.timer(`${r1}#route`, 1),
        [transfer(r1, 0, 'r1', '102'), salesCard(r1, 1, USERS.boris), timer(r1, 'responsible', 21)],
      ],
      [ev.ringing('r1', 1, '102'), []],
      // The manager does not pick up: the engine hunts through the free queue members.
      [
        ev.ringStopped('r1', 21, '102'),
        [
          hide(r1, 2, undefined, [USERS.boris]),
          cancel(r1, 'responsible'),
          transfer(r1, 3, 'r1', '101'),
          show(r1, 4, undefined, [USERS.anna]),
          timer(r1, 'hunt.0', 41),
        ],
      ],
      [
        ev.ended('r1', 22, 'cancelled'),
        [cancel(r1, 'hunt.0'), finish(r1, 5, undefined, USERS.anna, 0, '304')],
      ],
    ],
  },
  {
    name: 'S3 from the index with the manager’s workday closed: straight to the queue',
    steps: [
      [knownStart('r1', 0, indexed('CLOSED')), []],
      [knownRoute('r1', 0, indexed('CLOSED')), [plan('r1', step(20, '101', '102', '103'))]],
      [
        ev.ringing('r1', 0, '101', '102', '103'),
        [salesCard(r1, 0, USERS.anna), show(r1, 1, undefined, [USERS.boris, USERS.chen])],
      ],
      [ev.answered('r1', 5, '101'), [hide(r1, 2, undefined, [USERS.boris, USERS.chen])]],
      [ev.ended('r1', 20), [timer(r1, 'grace', 25), timer(r1, 'recording', 80)]],
      [
        ev.recording('r1', 21, REC('r1')),
        [
          cancel(r1, 'grace'),
          cancel(r1, 'recording'),
          finish(r1, 3, undefined, USERS.anna, 15, '200'),
          attach(r1, 4, undefined, REC('r1')),
        ],
      ],
    ],
  },
  {
    name: 'S3 looked up late, with the manager ringing in the queue: moved to the manager alone, the cards follow',
    steps: [
      [ev.started('r1', 0, CLIENT, LINES.sales, LINES.sales), [salesRegister(r1, 0)]],
      [ev.route('r1', 0, CLIENT, LINES.sales), [plan('r1', step(20, '101', '102', '103'))]],
      [
        ev.ringing('r1', 0, '101', '102', '103'),
        [show(r1, 1, undefined, [USERS.anna, USERS.boris, USERS.chen])],
      ],
      [ev.registered(r1, 1, 'B3', ['CONTACT', 1]), [find(r1, 2, 'B3', CLIENT, 'CONTACT', 1)]],
      [
        ev.responsible(r1, 2, USERS.boris),
        [
          hide(r1, 3, 'B3', [USERS.anna, USERS.chen]),
          transfer(r1, 4, 'r1', '102'),
          timer(r1, 'responsible', 22),
        ],
      ],
      [ev.ringStopped('r1', 2, '101', '102', '103'), []],
      [ev.transferred('r1', 2, '102'), []],
      [ev.ringing('r1', 2, '102'), []],
      [ev.answered('r1', 6, '102'), [cancel(r1, 'responsible')]],
      [ev.recording('r1', 36, REC('r1')), []],
      [ev.ended('r1', 36), [finish(r1, 5, 'B3', USERS.boris, 30, '200'), attach(r1, 6, 'B3', REC('r1'))]],
    ],
  },
  {
    name: 'S3 looked up late with the manager on a break: no transfer, the queue keeps the call',
    steps: [
      [ev.started('r1', 0, CLIENT, LINES.sales, LINES.sales), [salesRegister(r1, 0)]],
      [ev.registered(r1, 1, 'B3', ['CONTACT', 1]), [find(r1, 1, 'B3', CLIENT, 'CONTACT', 1)]],
      [
        {
          now: at(1),
          input: { type: 'bitrix.responsible', callKey: r1, userId: USERS.boris, timemanStatus: 'PAUSED' },
        },
        [],
      ],
      [ev.route('r1', 2, CLIENT, LINES.sales), [plan('r1', step(20, '101', '102', '103'))]],
      [ev.ended('r1', 8, 'cancelled'), [finish(r1, 2, 'B3', USERS.admin, 0, '304')]],
    ],
  },
  {
    name: 'a busy extension (no phone rang): registered without a card and finished 486 for its user, no default user needed',
    config: installerOnly,
    steps: [
      [ev.started('b1', 0, CALLER, '103'), []],
      [
        ev.ended('b1', 0, 'busy'),
        [unrung(key('b1', 0), 0, USERS.chen), finish(key('b1', 0), 1, undefined, USERS.chen, 0, '486')],
      ],
    ],
  },
  {
    name: 'every queue member busy: an empty plan, then one record finished 486 for the installer',
    config: withLine(
      'support',
      (l) => ({
        ...l,
        routing: { kind: 'queue', queue: { members: ['104'], strategy: 'sequential', memberTimeoutSec: 5 } },
      }),
      installerOnly,
    ),
    steps: [
      [ev.started('s1', 0, CALLER, LINES.support, LINES.support), []],
      [ev.route('s1', 0, CALLER, LINES.support), [plan('s1')]],
      [
        ev.ended('s1', 1, 'busy'),
        [unrung(s1, 0, USERS.admin, CALLER, LINES.support), finish(s1, 1, undefined, USERS.admin, 0, '486')],
      ],
    ],
  },
  {
    name: 'the caller hangs up in the IVR before anything rings: one missed record for the installer',
    config: installerOnly,
    steps: [
      [ev.started('v1', 0, CALLER, '555'), []],
      [
        ev.ended('v1', 7, 'cancelled'),
        [unrung(key('v1', 0), 0, USERS.admin), finish(key('v1', 0), 1, undefined, USERS.admin, 0, '304')],
      ],
    ],
  },
  {
    name: 'a line that opts out of logging calls that never rang: nothing is sent for them',
    config: withLine('support', (l) => ({ ...l, logUnrungCalls: false })),
    steps: [
      [ev.started('s1', 0, CALLER, LINES.support, LINES.support), []],
      [ev.ended('s1', 3, 'cancelled'), []],
    ],
  },
  {
    name: 'a feature code dialled from a phone (*97) is no call: never logged',
    steps: [
      [ev.dialled('f1', 0, '101', '*97'), []],
      [ev.answered('f1', 1, '*97'), []],
      [ev.ended('f1', 9, 'completed'), []],
    ],
  },
  {
    name: 'an end that overtakes its start: the late start logs the call once, without a card',
    steps: [
      [ev.ended('t1', 5, 'cancelled'), []],
      [ev.ringing('t1', 1, '101'), []],
      [
        ev.started('t1', 0, CALLER, '101'),
        [
          register(key('t1', 0), 0, {
            ...inbound(0, CALLER),
            userId: USERS.anna,
            show: false,
            crmCreate: true,
            crmSource: 'CALL',
          }),
          finish(key('t1', 0), 1, undefined, USERS.anna, 0, '304'),
        ],
      ],
      [ev.ringing('t1', 1, '101'), []],
      [ev.ended('t1', 5, 'cancelled'), []],
      [ev.started('t1', 0, CALLER, '101'), []],
    ],
  },
  {
    name: 'S4 click-to-call: originate from the user’s phone, finish the portal’s CALL_ID',
    portalCard: [c2c, USERS.anna],
    steps: [
      [
        {
          now: at(0),
          input: {
            type: 'click_to_call.requested',
            bitrixCallId: C2C,
            userId: USERS.anna,
            phoneNumber: '+79031112233',
            callListId: 7,
            lineNumber: LINES.sales,
          },
        },
        [originate(c2c, 0, `c2c.${C2C}`, '101', '+79031112233'), timer(c2c, 'originate', 60)],
      ],
      [ev.dialled(`c2c.${C2C}`, 2, '101', '+79031112233'), [cancel(c2c, 'originate')]],
      [ev.ringing(`c2c.${C2C}`, 2, '101'), []],
      [ev.answered(`c2c.${C2C}`, 8, '101'), []],
      [ev.recording(`c2c.${C2C}`, 37, REC('c2c')), []],
      [
        ev.ended(`c2c.${C2C}`, 38),
        [finish(c2c, 1, C2C, USERS.anna, 30, '200'), attach(c2c, 2, C2C, REC('c2c'))],
      ],
    ],
  },
  {
    name: 'S4 click-to-call by a user without a phone: finished at once as failed',
    portalCard: [key(`c2c.${C2C}`, 0), USERS.elena],
    steps: [
      [
        {
          now: at(0),
          input: {
            type: 'click_to_call.requested',
            bitrixCallId: C2C,
            userId: USERS.elena,
            phoneNumber: '+79031112233',
            callListId: null,
            lineNumber: null,
          },
        },
        [finish(c2c, 0, C2C, USERS.elena, 0, '503', 'The user has no extension on the PBX')],
      ],
    ],
  },
  {
    name: 'S4 click-to-call the PBX never starts: finished as failed after the originate timeout',
    portalCard: [c2c, USERS.anna],
    steps: [
      [
        {
          now: at(0),
          input: {
            type: 'click_to_call.requested',
            bitrixCallId: C2C,
            userId: USERS.anna,
            phoneNumber: '+79031112233',
            callListId: 0,
            lineNumber: null,
          },
        },
        [originate(c2c, 0, `c2c.${C2C}`, '101', '+79031112233'), timer(c2c, 'originate', 60)],
      ],
      [ev.timer(`${c2c}#originate`, 60), [finish(c2c, 1, C2C, USERS.anna, 0, '503')]],
      [ev.ended(`c2c.${C2C}`, 61, 'failed'), []],
    ],
  },
  {
    name: 'S5 recording after the grace: hide at the grace, finish with the recording when it comes',
    steps: [
      ...directStart,
      [ev.ended('c1', 95, 'completed'), [timer(c1, 'grace', 100), timer(c1, 'recording', 155)]],
      [ev.timer(`${c1}#grace`, 100), [hide(c1, 1, 'B1', [USERS.anna])]],
      [
        ev.recording('c1', 120, REC('c1')),
        [cancel(c1, 'recording'), finish(c1, 2, 'B1', USERS.anna, 90, '200'), attach(c1, 3, 'B1', REC('c1'))],
      ],
    ],
  },
  {
    name: 'S5 recording after the maximum wait: finish without it, attach it when it comes',
    steps: [
      ...directStart,
      [ev.ended('c1', 95, 'completed'), [timer(c1, 'grace', 100), timer(c1, 'recording', 155)]],
      [ev.timer(`${c1}#grace`, 100), [hide(c1, 1, 'B1', [USERS.anna])]],
      [ev.timer(`${c1}#recording`, 155), [finish(c1, 2, 'B1', USERS.anna, 90, '200')]],
      [ev.recording('c1', 300, REC('c1')), [attach(c1, 3, 'B1', REC('c1'))]],
      [ev.recording('c1', 301, REC('c1')), []],
    ],
  },
  {
    name: 'S5 with no grace: hide at hang-up as the seed says, finish when the recording comes',
    config: { ...office, recording: { maxWaitSec: 60, hideGraceSec: 0 } },
    steps: [
      ...directStart,
      [ev.ended('c1', 95, 'completed'), [hide(c1, 1, 'B1', [USERS.anna]), timer(c1, 'recording', 155)]],
      [
        ev.recording('c1', 99, REC('c1')),
        [cancel(c1, 'recording'), finish(c1, 2, 'B1', USERS.anna, 90, '200'), attach(c1, 3, 'B1', REC('c1'))],
      ],
    ],
  },
  {
    name: 'S5 with no recording wait: finish at hang-up, attach a late recording',
    config: { ...office, recording: { maxWaitSec: 0, hideGraceSec: 5 } },
    steps: [
      ...directStart,
      [ev.ended('c1', 95, 'completed'), [finish(c1, 1, 'B1', USERS.anna, 90, '200')]],
      [ev.recording('c1', 99, REC('c1')), [attach(c1, 2, 'B1', REC('c1'))]],
    ],
  },
  {
    name: 'transfer: the card follows the call and the record is finished for the last holder',
    steps: [
      ...directStart,
      [ev.transferred('c1', 30, '102'), [hide(c1, 1, 'B1', [USERS.anna]), show(c1, 2, 'B1', [USERS.boris])]],
      [ev.ringing('c1', 30, '102'), []],
      [ev.answered('c1', 33, '102'), []],
      [ev.ringStopped('c1', 33, '102'), []],
      [ev.ended('c1', 65), [timer(c1, 'grace', 70), timer(c1, 'recording', 125)]],
      [ev.timer(`${c1}#grace`, 70), [hide(c1, 3, 'B1', [USERS.boris])]],
      [
        ev.recording('c1', 80, REC('c1')),
        [
          cancel(c1, 'recording'),
          finish(c1, 4, 'B1', USERS.boris, 60, '200'),
          attach(c1, 5, 'B1', REC('c1')),
        ],
      ],
    ],
  },
  {
    name: 'transfer to an outside number: the card goes down, the call stays with its last holder',
    steps: [
      ...directStart,
      [ev.transferred('c1', 30, '+79990009999'), [hide(c1, 1, 'B1', [USERS.anna])]],
      [ev.ended('c1', 65), [timer(c1, 'recording', 125)]],
      [ev.timer(`${c1}#recording`, 125), [finish(c1, 2, 'B1', USERS.anna, 60, '200')]],
    ],
  },
  {
    name: 'missed in a simultaneous queue: cards down, finished once with 304 for the line’s missed-call user',
    steps: [
      [ev.started('m1', 0, CALLER, LINES.hotline, LINES.hotline), []],
      [ev.route('m1', 0, CALLER, LINES.hotline), [plan('m1', step(20, '101', '102', '103'))]],
      [
        ev.ringing('m1', 0, '101', '102', '103', '104'),
        [
          register(m1, 0, {
            ...inbound(0, CALLER, LINES.hotline),
            userId: USERS.anna,
            show: true,
            crmCreate: false,
          }),
          show(m1, 1, undefined, [USERS.boris, USERS.chen]),
        ],
      ],
      [ev.ringStopped('m1', 20, '101'), [hide(m1, 2, undefined, [USERS.anna])]],
      [
        ev.ended('m1', 20, 'cancelled'),
        [hide(m1, 3, undefined, [USERS.boris, USERS.chen]), finish(m1, 4, undefined, USERS.admin, 0, '304')],
      ],
      [ev.ringStopped('m1', 21, '102', '103'), []],
      [ev.answered('m1', 22, '102'), []],
      [ev.ended('m1', 23), []],
    ],
  },
  {
    name: 'missed in a sequential queue: logged to the last member rung, whose card finish takes down',
    steps: [
      [ev.started('s1', 0, CALLER, LINES.support, LINES.support), []],
      [
        ev.ringing('s1', 0, '101'),
        [
          register(s1, 0, {
            ...inbound(0, CALLER, LINES.support),
            userId: USERS.anna,
            show: true,
            crmCreate: true,
          }),
        ],
      ],
      [ev.ringStopped('s1', 5, '101'), [hide(s1, 1, undefined, [USERS.anna])]],
      [ev.ringing('s1', 5, '102'), [show(s1, 2, undefined, [USERS.boris])]],
      [ev.ended('s1', 7, 'no_answer'), [finish(s1, 3, undefined, USERS.boris, 0, '304')]],
    ],
  },
  {
    name: 'missed before any phone rang: register without a card, then finish',
    steps: [
      [ev.started('m1', 0, CALLER, '8800'), []],
      [
        ev.ended('m1', 4, 'cancelled'),
        [
          register(m1, 0, {
            ...inbound(0, CALLER, LINES.hotline),
            userId: USERS.admin,
            show: false,
            crmCreate: false,
          }),
          finish(m1, 1, undefined, USERS.admin, 0, '304'),
        ],
      ],
    ],
  },
  {
    name: 'callback: register TYPE 4 for a free agent, ring the agent, then dial the customer',
    steps: [
      [
        {
          now: at(0),
          input: { type: 'callback.requested', phoneNumber: '+79990002222', lineNumber: LINES.support },
        },
        [
          register(cb, 0, {
            phoneNumber: '+79990002222',
            callType: 4,
            lineNumber: LINES.support,
            callStartDate: at(0),
            userId: USERS.anna,
            show: true,
            crmCreate: true,
          }),
          originate(cb, 1, 'cb.0', '101', '+79990002222'),
          timer(cb, 'originate', 60),
        ],
      ],
      [ev.dialled('cb.0', 3, '101', '+79990002222'), [cancel(cb, 'originate')]],
      [ev.answered('cb.0', 10, '101'), []],
      [ev.ended('cb.0', 70), [timer(cb, 'grace', 75), timer(cb, 'recording', 130)]],
      [ev.timer(`${cb}#grace`, 75), [hide(cb, 2, undefined, [USERS.anna])]],
      [ev.timer(`${cb}#recording`, 130), [finish(cb, 3, undefined, USERS.anna, 60, '200')]],
      [ev.recording('cb.0', 200, REC('cb')), [attach(cb, 4, undefined, REC('cb'))]],
    ],
  },
  {
    name: 'callback with no free agent: logged at once as a missed callback',
    config: withLine('support', (l) => ({
      ...l,
      routing: { kind: 'queue', queue: { members: ['104'], strategy: 'sequential', memberTimeoutSec: 5 } },
    })),
    steps: [
      [
        {
          now: at(0),
          input: { type: 'callback.requested', phoneNumber: '+79990002222', lineNumber: LINES.support },
        },
        [
          register(cb, 0, {
            phoneNumber: '+79990002222',
            callType: 4,
            lineNumber: LINES.support,
            callStartDate: at(0),
            userId: USERS.admin,
            show: false,
            crmCreate: true,
          }),
          finish(cb, 1, undefined, USERS.admin, 0, '304'),
        ],
      ],
    ],
  },
  {
    name: 'outbound call from a desk phone: TYPE 1 card for the caller, busy status kept',
    steps: [
      [
        ev.dialled('d1', 0, '103', '+79990003333'),
        [
          register(key('d1', 0), 0, {
            phoneNumber: '+79990003333',
            callType: 1,
            callStartDate: at(0),
            userId: USERS.chen,
            show: true,
            crmCreate: false,
          }),
        ],
      ],
      [ev.ended('d1', 20, 'busy'), [finish(key('d1', 0), 1, undefined, USERS.chen, 0, '486')]],
    ],
  },
  {
    name: 'internal call between two extensions: never logged, but both phones are busy',
    steps: [
      [ev.started('i1', 0, '101', '102'), []],
      [ev.ringing('i1', 0, '102'), []],
      [ev.answered('i1', 1, '102'), []],
      [ev.started('q1', 10, CALLER, '8800'), []],
      [ev.route('q1', 10, CALLER, '8800'), [plan('q1', step(20, '103'))]],
      [ev.ended('i1', 30), []],
      [ev.route('q1', 31, CALLER, '8800'), [plan('q1', step(20, '101', '102', '103'))]],
      [
        ev.ended('q1', 40, 'cancelled'),
        [
          register(q1, 0, {
            ...inbound(10, CALLER, LINES.hotline),
            userId: USERS.admin,
            show: false,
            crmCreate: false,
          }),
          finish(q1, 1, undefined, USERS.admin, 0, '304'),
        ],
      ],
    ],
  },
  {
    name: 'robustness: unknown calls, repeats and events out of order change nothing',
    steps: [
      [ev.ringing('nope', 0, '101'), []],
      [ev.answered('nope', 0, '101'), []],
      [ev.ended('nope', 0), []],
      [ev.timer('nope@1#grace', 0), []],
      [ev.timer('garbage', 0), []],
      [ev.registered('nope@1', 0, 'B9', null), []],
      [ev.started('c1', 0, CALLER, '101'), []],
      [ev.started('c1', 0, CALLER, '101'), []],
      [
        ev.ringing('c1', 1, '101'),
        [
          register(c1, 0, {
            ...inbound(0, CALLER),
            userId: USERS.anna,
            show: true,
            crmCreate: true,
            crmSource: 'CALL',
          }),
        ],
      ],
      [ev.ringing('c1', 1, '101'), []],
      [ev.ended('c1', 10, 'no_answer'), [finish(c1, 1, undefined, USERS.anna, 0, '304')]],
      [ev.answered('c1', 11, '101'), []],
      [ev.ringing('c1', 12, '101'), []],
      [ev.ended('c1', 13), []],
      [ev.started('c1', 14, CALLER, '101'), []],
      [ev.registered(c1, 15, 'B1', null), []],
      [
        ev.recording('c1', 16, 'https://pbx.example/rec/late.wav'),
        [attach(c1, 2, 'B1', 'https://pbx.example/rec/late.wav')],
      ],
    ],
  },
];

describe('call engine scenarios: the exact effects, in order', () => {
  it.each(scenarios)('$name', ({ config, steps, portalCard, requests }) => {
    const engine = createEngine(config ?? office);
    let state = engine.initialState();
    const ledger = new CardLedger();
    if (portalCard) ledger.portalRegistered(...portalCard);
    const windows = new Map<string, number>();
    steps.forEach(([timed, expected], i) => {
      const before = JSON.stringify(state);
      const result = engine.step(state, timed.input, timed.now);
      expect(result.effects, `step ${i + 1}: ${timed.input.type}`).toEqual(expected);
      expect(JSON.stringify(state), 'the input state is never changed').toBe(before);
      ledger.apply(result.effects);
      const callIds = new Set(
        result.effects.flatMap((e) =>
          'callKey' in e && e.type.startsWith('bitrix.') ? [e.callKey.split('@')[0] ?? ''] : [],
        ),
      );
      for (const id of callIds) windows.set(id, (windows.get(id) ?? 0) + 1);
      state = result.state;
    });
    expect(ledger.violations).toEqual([]);
    expect(ledger.cardsUp(), 'no card stays up').toEqual([]);
    for (const [id, count] of Object.entries(requests ?? {}))
      expect(windows.get(id), `requests of ${id}`).toBe(count);
  });

  it('an input that changes nothing returns the very same state', () => {
    const engine = createEngine(office);
    const state = engine.step(engine.initialState(), ev.started('c1', 0, CALLER, '101').input, at(0)).state;
    expect(engine.step(state, ev.answered('zzz', 1, '101').input, at(1)).state).toBe(state);
    expect(engine.step(state, ev.started('c1', 0, CALLER, '101').input, at(1)).state).toBe(state);
  });

  it('a call whose end never arrives is ended after maxCallSec, so its card goes down', () => {
    const engine = createEngine({ ...office, maxCallSec: 3600 });
    let state = engine.initialState();
    const all: Effect[] = [];
    for (const { input, now } of [
      ev.started('c1', 0, CALLER, '101'),
      ev.ringing('c1', 1, '101'),
      ev.timer(`${c1}#stale`, 3600),
    ]) {
      const r = engine.step(state, input, now);
      all.push(...r.effects);
      state = r.state;
    }
    expect(all.map((e) => e.type)).toEqual(['timer.start', 'bitrix.register', 'bitrix.finish']);
    expect(all.at(-1)).toMatchObject({ userId: USERS.anna, statusCode: '304' });
  });

  it('finished calls are remembered for retainSec: a repeat is ignored, later the id starts a new call', () => {
    const engine = createEngine({ ...office, retainSec: 60 });
    let state = engine.initialState();
    for (const { input, now } of [ev.started('c1', 0, CALLER, '101'), ev.ended('c1', 5)])
      state = engine.step(state, input, now).state;
    const repeat = engine.step(state, ev.started('c1', 30, CALLER, '101').input, at(30));
    expect(repeat).toEqual({ state, effects: [] });
    state = engine.step(state, ev.started('c1', 70, CALLER, '101').input, at(70)).state;
    expect(getCall(state, 'c1')?.key).toBe(key('c1', 70));
  });

  it('forgets expired calls when their shard is next written', () => {
    const engine = createEngine({ ...office, retainSec: 60 });
    const twin = Array.from({ length: 5000 }, (_, i) => `t${i}`).find((id) => shardOf(id) === shardOf('c2'));
    expect(twin).toBeDefined();
    let state = engine.initialState();
    for (const { input, now } of [ev.started('c2', 0, CALLER, '101'), ev.ended('c2', 5)])
      state = engine.step(state, input, now).state;
    state = engine.step(state, ev.started(twin!, 30, CALLER, '101').input, at(30)).state;
    expect(allCalls(state).map((c) => c.pbxCallId)).toEqual(['c2', twin]);
    state = engine.step(state, ev.ended(twin!, 70).input, at(70)).state;
    expect(allCalls(state).map((c) => c.pbxCallId)).toEqual([twin]);
  });

  it('refuses a configuration it cannot work with', () => {
    expect(() =>
      createEngine({ ...office, directory: [...office.directory, { extension: '101', userId: 9 }] }),
    ).toThrow(/listed twice/);
    expect(() => createEngine({ ...office, recording: { maxWaitSec: -1, hideGraceSec: 0 } })).toThrow(/≥ 0/);
  });
});
