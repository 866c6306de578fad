/**
 * The simulated PBX's calls: it rings legs, executes the bridge's plan step by step, lets agents
 * answer, callers give up, calls move on transfer, and reports each step as an API event stamped
 * with the simulator's clock. Everything here is driven by timers on that clock, so a test runs a
 * two-minute call in a few milliseconds.
 */
import type { OriginateCommand, TransferCommand } from '../../src/pbx/types.ts';
import type { ApiEvent } from '../../src/pbx/webhook/index.ts';
import type { SimClock } from './clock.ts';
import { chance, derivedRandom, secondsOf, type Random } from './random.ts';
import { defaultBehaviour, type CallSettings } from './settings.ts';
import type {
  AgentBehaviour,
  AgentSpec,
  CallSpec,
  EndReason,
  OutboundCallSpec,
  PlanStepWire,
  SimulatedCallResult,
  SimulatorEventMap,
} from './types.ts';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
type EventBody = DistributiveOmit<ApiEvent, 'at' | 'callId'>;
type Report = <K extends keyof SimulatorEventMap>(name: K, ...args: SimulatorEventMap[K]) => void;

export interface RouteAnswer {
  readonly plan: readonly PlanStepWire[];
  readonly fallback: boolean;
}

export interface SwitchboardDeps {
  readonly clock: SimClock;
  readonly seed: number;
  readonly settings: CallSettings;
  readonly agents: readonly AgentSpec[];
  readonly send: (event: ApiEvent) => void;
  readonly route: (request: {
    callId: string;
    from: string;
    to: string;
    line?: string;
  }) => Promise<RouteAnswer>;
  readonly recordingUrl: (callId: string) => string;
  /** When set, the PBX uploads each recording (base64) in `recording.ready` instead of a URL. */
  readonly recordingContent?: ((callId: string) => string) | undefined;
  readonly report: Report;
  readonly newCallId: () => string;
}

interface Agent {
  readonly extension: string;
  readonly behaviour: AgentBehaviour;
  /** The call this agent is talking on; a busy agent does not answer other legs. */
  busyWith: string | null;
}

type Cancel = () => void;

interface Call {
  readonly id: string;
  readonly direction: 'inbound' | 'outbound';
  readonly from: string;
  readonly to: string;
  readonly random: Random;
  readonly talkSec: number;
  readonly startedAt: number;
  phase: 'routing' | 'ringing' | 'talking' | 'ended';
  plan: readonly PlanStepWire[];
  step: number;
  readonly ringing: Set<string>;
  readonly legs: Map<string, Cancel>;
  stepTimer: Cancel | null;
  patienceTimer: Cancel | null;
  talkTimer: Cancel | null;
  /** The extension whose agent is on this call (answered it, or picked up to dial out). */
  holder: string | null;
  answeredBy: string | null;
  answeredAt: number | null;
  /** Some plan extension was skipped because its agent was busy. */
  sawBusy: boolean;
  /** Some phone rang for the call. */
  rang: boolean;
  readonly done: (result: SimulatedCallResult) => void;
}

export type CommandOutcome =
  { readonly status: 'done' } | { readonly status: 'failed'; readonly reason: string };

export class Switchboard {
  private readonly agents = new Map<string, Agent>();
  private readonly calls = new Map<string, Call>();
  /** Recordings still being "written" after their call ended; cancelled when the PBX stops. */
  private readonly pendingRecordings = new Set<Cancel>();
  started = 0;
  ended = 0;
  answered = 0;

  constructor(private readonly deps: SwitchboardDeps) {
    for (const spec of deps.agents) {
      this.agents.set(spec.extension, {
        extension: spec.extension,
        behaviour: {
          answerProbability: spec.answerProbability ?? defaultBehaviour.answerProbability,
          answerAfterSec: spec.answerAfterSec ?? defaultBehaviour.answerAfterSec,
        },
        busyWith: null,
      });
    }
  }

  get active(): number {
    return this.calls.size;
  }

  busyExtensions(): string[] {
    return [...this.agents.values()].filter((a) => a.busyWith !== null).map((a) => a.extension);
  }

  isFree(extension: string): boolean {
    return this.agents.get(extension)?.busyWith === null;
  }

  place(spec: CallSpec): Promise<SimulatedCallResult> {
    return spec.direction === 'outbound' ? this.dialOut(spec) : this.inbound(spec);
  }

  /** Stops every call where it is, without reporting anything more: the PBX went away. */
  abandon(): void {
    for (const call of this.calls.values()) this.clearTimers(call);
    this.calls.clear();
    for (const stop of this.pendingRecordings) stop();
    this.pendingRecordings.clear();
  }

  private inbound(spec: Exclude<CallSpec, OutboundCallSpec>): Promise<SimulatedCallResult> {
    const { settings } = this.deps;
    const line = spec.line ?? (settings.lines.includes(spec.to) ? spec.to : undefined);
    return this.open(spec.callId, 'inbound', spec.from, spec.to, spec.talkSec, (call) => {
      this.emit(call, {
        type: 'call.started',
        direction: 'inbound',
        from: spec.from,
        to: spec.to,
        ...(line === undefined ? {} : { line }),
      });
      const patienceSec = spec.patienceSec ?? secondsOf(settings.callerPatienceSec, call.random);
      call.patienceTimer = this.after(patienceSec, () => this.hangUp(call, 'cancelled'));
      void this.deps
        .route({ callId: call.id, from: spec.from, to: spec.to, ...(line === undefined ? {} : { line }) })
        .then((answer) => {
          // The caller may have hung up while the bridge was thinking.
          if (call.phase !== 'routing') return;
          this.deps.report('route.planned', {
            callId: call.id,
            plan: answer.plan,
            fallback: answer.fallback,
          });
          call.plan = answer.plan;
          call.step = 0;
          this.runStep(call);
        });
    });
  }

  /** An agent dials out from the desk phone: the call is theirs from the first moment. */
  private dialOut(spec: OutboundCallSpec): Promise<SimulatedCallResult> {
    const agent = this.agents.get(spec.extension);
    return this.open(spec.callId, 'outbound', spec.extension, spec.number, spec.talkSec, (call) => {
      this.emit(call, { type: 'call.started', direction: 'outbound', from: spec.extension, to: spec.number });
      if (agent === undefined || agent.busyWith !== null) {
        this.hangUp(call, agent === undefined ? 'failed' : 'busy');
        return;
      }
      this.take(call, agent);
      this.connect(call, spec.answered, spec.answerAfterSec);
    });
  }

  private open(
    callId: string | undefined,
    direction: 'inbound' | 'outbound',
    from: string,
    to: string,
    talkSec: number | undefined,
    begin: (call: Call) => void,
  ): Promise<SimulatedCallResult> {
    const id = callId ?? this.deps.newCallId();
    if (this.calls.has(id)) return Promise.reject(new Error(`call ${id} is already in progress`));
    return new Promise((resolve) => {
      const random = derivedRandom(this.deps.seed, id);
      const call: Call = {
        id,
        direction,
        from,
        to,
        random,
        talkSec: talkSec ?? secondsOf(this.deps.settings.talkSec, random),
        startedAt: this.deps.clock.now(),
        phase: 'routing',
        plan: [],
        step: 0,
        ringing: new Set(),
        legs: new Map(),
        stepTimer: null,
        patienceTimer: null,
        talkTimer: null,
        holder: null,
        answeredBy: null,
        answeredAt: null,
        sawBusy: false,
        rang: false,
        done: resolve,
      };
      this.calls.set(id, call);
      this.started++;
      this.deps.report('call.started', { callId: id, direction, from, to });
      begin(call);
    });
  }

  /** Rings the current step's free extensions; after its timeout, the next step. */
  private runStep(call: Call): void {
    for (; call.step < call.plan.length; call.step++) {
      const step = call.plan[call.step];
      if (step === undefined) break;
      const free = [...new Set(step.extensions)].filter((extension) => {
        const busy = (this.agents.get(extension)?.busyWith ?? null) !== null;
        if (busy) call.sawBusy = true;
        return !busy;
      });
      if (free.length === 0) continue;
      this.ring(call, free);
      // A step without a timeout rings until someone answers or the caller gives up.
      if (step.timeoutSec > 0)
        call.stepTimer = this.after(step.timeoutSec, () => {
          call.stepTimer = null;
          this.stopRinging(call);
          call.step++;
          this.runStep(call);
        });
      return;
    }
    // The plan is exhausted (or was empty): a real PBX would play its fallback, here the caller leaves.
    const reason: EndReason =
      call.answeredAt !== null ? 'completed' : call.sawBusy && !call.rang ? 'busy' : 'no_answer';
    this.hangUp(call, reason);
  }

  private ring(call: Call, extensions: readonly string[]): void {
    call.phase = 'ringing';
    call.rang = true;
    for (const extension of extensions) call.ringing.add(extension);
    this.emit(call, { type: 'call.ringing', extensions: [...extensions] });
    for (const extension of extensions) {
      const agent = this.agents.get(extension);
      // An extension nobody simulates rings and is never answered; so does a reluctant agent.
      const answers = agent !== undefined && chance(agent.behaviour.answerProbability, call.random);
      const delay = agent === undefined ? 0 : secondsOf(agent.behaviour.answerAfterSec, call.random);
      if (!answers) continue;
      call.legs.set(
        extension,
        this.after(delay, () => {
          call.legs.delete(extension);
          this.answer(call, extension);
        }),
      );
    }
  }

  private answer(call: Call, extension: string): void {
    const agent = this.agents.get(extension);
    // Took another call while this one rang: the leg just keeps ringing.
    if (agent === undefined || agent.busyWith !== null || call.phase !== 'ringing') return;
    this.cancelRinging(call);
    cancel(call.patienceTimer);
    call.patienceTimer = null;
    const others = [...call.ringing].filter((e) => e !== extension);
    call.ringing.clear();
    this.take(call, agent);
    call.answeredBy = extension;
    call.answeredAt ??= this.deps.clock.now();
    call.phase = 'talking';
    this.emit(call, { type: 'call.answered', extension });
    if (others.length > 0) this.emit(call, { type: 'call.ring_stopped', extensions: others });
    // A transferred call keeps the conversation's original length.
    call.talkTimer ??= this.after(call.talkSec, () => this.hangUp(call, 'completed'));
  }

  /** The far end of an outgoing call answers (or not); the agent is already on the line. */
  private connect(call: Call, answered?: boolean, answerAfterSec?: number): void {
    const { callee } = this.deps.settings;
    call.phase = 'ringing';
    const answers = answered ?? chance(callee.answerProbability, call.random);
    const delay = answerAfterSec ?? secondsOf(callee.answerAfterSec, call.random);
    call.stepTimer = this.after(callee.ringTimeoutSec, () => this.hangUp(call, 'no_answer'));
    if (!answers || delay >= callee.ringTimeoutSec) return;
    call.legs.set(
      call.to,
      this.after(delay, () => {
        call.legs.delete(call.to);
        this.cancelRinging(call);
        const extension = call.holder ?? call.from;
        call.answeredBy = extension;
        call.answeredAt = this.deps.clock.now();
        call.phase = 'talking';
        // The engine's outbound convention: the answered leg is the agent's own phone.
        this.emit(call, { type: 'call.answered', extension });
        call.talkTimer = this.after(call.talkSec, () => this.hangUp(call, 'completed'));
      }),
    );
  }

  /** `transfer`: the call leaves whoever had it (or the phones ringing for it) for `extension`. */
  transfer(command: TransferCommand): CommandOutcome {
    const call = this.calls.get(command.callId);
    if (call === undefined) return { status: 'failed', reason: `no call ${command.callId} in progress` };
    const target = this.agents.get(command.extension);
    if (target === undefined) return { status: 'failed', reason: `no extension ${command.extension}` };
    if (call.holder === command.extension) return { status: 'done' };
    if (target.busyWith !== null)
      return { status: 'failed', reason: `extension ${command.extension} is busy` };
    this.stopRinging(call);
    cancel(call.stepTimer);
    call.stepTimer = null;
    this.release(call);
    this.emit(call, { type: 'call.transferred', to: command.extension });
    call.plan = [{ extensions: [command.extension], timeoutSec: this.deps.settings.transferRingSec }];
    call.step = 0;
    this.runStep(call);
    return { status: 'done' };
  }

  /** `originate` (click-to-call): ring the agent's phone, and once they pick up, dial the number. */
  originate(command: OriginateCommand): CommandOutcome {
    const { number } = command;
    if (this.calls.has(command.callId))
      return { status: 'failed', reason: `call ${command.callId} already exists` };
    const agent = this.agents.get(command.extension);
    if (agent === undefined) return { status: 'failed', reason: `no extension ${command.extension}` };
    if (agent.busyWith !== null)
      return { status: 'failed', reason: `extension ${command.extension} is busy` };
    void this.open(command.callId, 'outbound', command.extension, number, undefined, (call) => {
      this.emit(call, { type: 'call.started', direction: 'outbound', from: command.extension, to: number });
      call.phase = 'ringing';
      call.ringing.add(command.extension);
      this.emit(call, { type: 'call.ringing', extensions: [command.extension] });
      const pickUp = secondsOf(this.deps.settings.originatePickupSec, call.random);
      call.legs.set(
        command.extension,
        this.after(pickUp, () => {
          call.legs.delete(command.extension);
          call.ringing.clear();
          cancel(call.stepTimer);
          // Took another call meanwhile: the click-to-call is abandoned.
          if (agent.busyWith !== null) {
            this.hangUp(call, 'busy');
            return;
          }
          this.take(call, agent);
          this.connect(call);
        }),
      );
      call.stepTimer = this.after(this.deps.settings.transferRingSec, () => this.hangUp(call, 'no_answer'));
    });
    return { status: 'done' };
  }

  /** Ends the call: phones still ringing stop, the agent is free, the recording follows. */
  private hangUp(call: Call, reason: EndReason): void {
    if (call.phase === 'ended') return;
    this.stopRinging(call);
    this.clearTimers(call);
    this.release(call);
    call.phase = 'ended';
    this.calls.delete(call.id);
    this.ended++;
    this.emit(call, { type: 'call.ended', reason });
    const finish = (recordingUrl: string | null): void => {
      const result: SimulatedCallResult = {
        callId: call.id,
        direction: call.direction,
        from: call.from,
        to: call.to,
        reason,
        answeredBy: call.answeredBy,
        startedAt: call.startedAt,
        answeredAt: call.answeredAt,
        endedAt: endedAt,
        recordingUrl,
      };
      this.deps.report('call.ended', result);
      call.done(result);
    };
    const endedAt = this.deps.clock.now();
    if (call.answeredAt === null) {
      finish(null);
      return;
    }
    this.answered++;
    // The PBX records every answered call; the file is ready a little after the hang-up (S5).
    const recording = this.after(secondsOf(this.deps.settings.recordingDelaySec, call.random), () => {
      this.pendingRecordings.delete(recording);
      const upload = this.deps.recordingContent;
      if (upload) {
        this.emit(call, {
          type: 'recording.ready',
          contentBase64: upload(call.id),
          filename: fileNameOf(call.id),
        });
        finish(null);
        return;
      }
      const url = this.deps.recordingUrl(call.id);
      this.emit(call, { type: 'recording.ready', url, filename: fileNameOf(call.id) });
      finish(url);
    });
    this.pendingRecordings.add(recording);
  }

  private take(call: Call, agent: Agent): void {
    agent.busyWith = call.id;
    call.holder = agent.extension;
  }

  private release(call: Call): void {
    if (call.holder === null) return;
    const agent = this.agents.get(call.holder);
    if (agent?.busyWith === call.id) agent.busyWith = null;
    call.holder = null;
  }

  /** Phones ringing for the call go quiet without answering. */
  private stopRinging(call: Call): void {
    this.cancelRinging(call);
    if (call.ringing.size === 0) return;
    const extensions = [...call.ringing];
    call.ringing.clear();
    this.emit(call, { type: 'call.ring_stopped', extensions });
  }

  private cancelRinging(call: Call): void {
    for (const stop of call.legs.values()) stop();
    call.legs.clear();
    cancel(call.stepTimer);
    call.stepTimer = null;
  }

  private clearTimers(call: Call): void {
    this.cancelRinging(call);
    cancel(call.patienceTimer);
    cancel(call.talkTimer);
    call.patienceTimer = null;
    call.talkTimer = null;
  }

  private emit(call: Call, body: EventBody): void {
    const at = new Date(this.deps.clock.now()).toISOString();
    this.deps.send({ ...body, callId: call.id, at });
  }

  private after(seconds: number, fn: () => void): Cancel {
    return this.deps.clock.setTimer(Math.round(seconds * 1000), fn);
  }
}

/** The API refuses folders and control characters in a file name; a call id may hold either. */
function fileNameOf(callId: string): string {
  let name = '';
  for (const char of callId.slice(0, 250)) {
    const code = char.charCodeAt(0);
    name += code < 0x20 || char === '/' || char === '\\' ? '_' : char;
  }
  return `${name}.wav`;
}

function cancel(timer: Cancel | null): void {
  if (timer !== null) timer();
}
