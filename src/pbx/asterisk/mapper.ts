/**
 * Asterisk's channel events (18–22) as the bridge's normalized call events. A pure state machine:
 * frames and the time go in, events come out; no I/O, no clock, so captures replay into the same
 * answer every time and the whole thing is fast enough to sit on the AMI socket.
 *
 * The model: one call per Linkedid (Asterisk gives every channel a call spawns its creator's
 * Linkedid). Of a call's channels, those the device patterns recognise are office phones; the
 * first channel decides the direction (a phone → outbound, anything else → inbound). Local
 * channel pairs (`;1`/`;2`) need no special casing: both halves carry the Linkedid, and a phone is
 * known by its device name with the `;n` cut off, so the two halves are one phone.
 */
import { BoundedSet } from '../../kit/index.ts';
import type { Direction, EndReason, PbxEvent } from '../types.ts';
import type { DeviceMap } from './devices.ts';
import { field, type AmiFrame } from './frames.ts';

export type AmiMode = 'mirror' | 'route';

/**
 * A MixMonitor file finished with its call over. Not yet a `recording.ready`: the adapter still has
 * to read the file or name its URL, which is I/O.
 */
export interface RecordingFinished {
  readonly type: 'asterisk.recording';
  readonly callId: string;
  readonly at: number;
  /** As Asterisk named it (`MIXMONITOR_FILENAME`), usually an absolute path on the PBX. */
  readonly file: string;
}

export type MappedEvent = PbxEvent | RecordingFinished;

interface MapperOptions {
  devices: DeviceMap;
  /**
   * `mirror`: Asterisk's own queues decide who rings, and their Agent* events drive the cards too.
   * `route`: the dialplan asks the bridge (`/pbx/v1/route`); Dial events alone tell what rang.
   */
  mode?: AmiMode | undefined;
}

/** A call the bridge asked for (`Originate`), to be reported under the engine's call id. */
interface ExpectedOriginate {
  /** The `ChannelId` given to Originate: the Uniqueid, and so the Linkedid, of the new call. */
  readonly channelId: string;
  readonly actionId?: string | undefined;
  readonly callId: string;
  readonly extension: string;
  readonly number: string;
}

interface Channel {
  readonly uniqueid: string;
  readonly name: string;
  linkedid: string;
  readonly ext: string | null;
  state: string;
  bridged: boolean;
  /** The resync generation that last heard of this channel (see `beginResync`). */
  touched: number;
}

interface Call {
  readonly linkedid: string;
  readonly callId: string;
  readonly startedAt: number;
  readonly direction: Direction;
  /** Local pair (or channel) name of the first channel: where the caller's number shows. */
  readonly originPair: string;
  readonly originated: boolean;
  from: string;
  to: string;
  announced: boolean;
  readonly channels: Set<string>;
  readonly ringing: Set<string>;
  rang: boolean;
  sawBusy: boolean;
  answeredBy: string | null;
  /** DialStatus of the last dial to a phone (or, outbound, to the far end) that was not answered. */
  lastDial: string | null;
  abandoned: boolean;
  recordingFile: string | null;
  recording: boolean;
  /** A phone dialling a feature code (`*97`): no call with anybody, reported not at all. */
  featureCode: boolean;
  /**
   * Channels of the extension a Redirect sent the call to that were ringing for it before (the
   * queue's dial to that phone): their end is the Redirect's doing, not that phone's no.
   */
  superseded: Set<string>;
}

/** `*97`, `#31#`: what a phone dials to reach a service of its PBX (voicemail, forwarding). */
const isFeatureCode = (number: string): boolean => /^[*#][0-9*#]*$/.test(number);

/** How many ended calls and gone channels are remembered, so their late events change nothing. */
const REMEMBERED = 20_000;

const unknownNumber = (n: string | undefined): boolean =>
  n === undefined || n === '' || n === '<unknown>' || n === '<null>';

const pairOf = (name: string): string =>
  name.length > 2 && name.charCodeAt(name.length - 2) === 59 /* ; */ ? name.slice(0, -2) : name;

/** `Timestamp: 1700000000.123456` when manager.conf has `timestampevents = yes`; else the arrival time. */
function timeOf(frame: AmiFrame, now: number): number {
  const ts = field(frame, 'Timestamp');
  if (ts === undefined) return now;
  const seconds = Number(ts);
  return Number.isFinite(seconds) && seconds > 0 ? Math.round(seconds * 1000) : now;
}

/** `HH:MM:SS` of CoreShowChannel. */
function durationMs(value: string | undefined): number {
  if (value === undefined) return 0;
  const parts = value.split(':').map(Number);
  if (parts.length !== 3 || parts.some((p) => !Number.isFinite(p) || p < 0)) return 0;
  const [h = 0, m = 0, s = 0] = parts;
  return ((h * 60 + m) * 60 + s) * 1000;
}

export class AmiCallMapper {
  private readonly devices: DeviceMap;
  private readonly mirror: boolean;
  private readonly channels = new Map<string, Channel>();
  private readonly calls = new Map<string, Call>();
  private readonly linkedidOfCall = new Map<string, string>();
  private readonly gone = new BoundedSet<string>(REMEMBERED);
  private readonly ended = new BoundedSet<string>(REMEMBERED);
  private readonly originates = new Map<string, ExpectedOriginate>();
  private readonly originateByAction = new Map<string, string>();
  private generation = 0;
  private resyncing = false;

  constructor(options: MapperOptions) {
    this.devices = options.devices;
    this.mirror = (options.mode ?? 'mirror') === 'mirror';
  }

  /** Calls in progress (tests, the health report). */
  get liveCalls(): number {
    return this.calls.size;
  }

  /** One AMI event; answers what it means for the calls (often nothing). */
  push(frame: AmiFrame, now: number, out: MappedEvent[] = []): MappedEvent[] {
    const event = field(frame, 'Event');
    if (event === undefined) return out;
    this.handle(event, frame, timeOf(frame, now), out);
    if (this.pendingOut.length > 0) out.push(...this.pendingOut.splice(0));
    return out;
  }

  private handle(event: string, frame: AmiFrame, at: number, out: MappedEvent[]): MappedEvent[] {
    switch (event) {
      // The noisiest events first: most frames of a busy PBX are these, and most change nothing.
      case 'VarSet':
        if (field(frame, 'Variable') === 'MIXMONITOR_FILENAME') {
          const call = this.callOfChannel(frame, at);
          const file = field(frame, 'Value');
          if (call && file !== undefined && file !== '') call.recordingFile ??= file;
        }
        return out;
      case 'Newexten':
      case 'DeviceStateChange':
      case 'ExtensionStatus':
      case 'Cdr':
      case 'CEL':
      case 'DialState':
      case 'QueueMemberStatus':
      case 'NewConnectedLine':
      case 'LocalBridge':
        return out;
      case 'Newchannel':
      case 'NewCallerid':
        this.callOfChannel(frame, at);
        return out;
      case 'Newstate':
        this.onNewstate(frame, at, out);
        return out;
      case 'DialBegin':
        this.onDialBegin(frame, at, out);
        return out;
      case 'DialEnd':
        this.onDialEnd(frame, at, out);
        return out;
      case 'BridgeEnter':
        this.onBridgeEnter(frame, at, out);
        return out;
      case 'BridgeLeave': {
        const channel = this.channelOf(frame, at);
        if (channel) channel.bridged = false;
        return out;
      }
      case 'Hangup':
        this.onHangup(frame, at, out);
        return out;
      case 'QueueCallerAbandon': {
        const call = this.callOfChannel(frame, at);
        if (call) call.abandoned = true;
        return out;
      }
      case 'AgentCalled':
      case 'AgentRingNoAnswer':
      case 'AgentConnect':
        if (this.mirror) this.onAgent(event, frame, at, out);
        return out;
      case 'BlindTransfer':
      case 'AttendedTransfer':
        this.onTransfer(event, frame, at, out);
        return out;
      case 'MixMonitorStart':
      case 'MixMonitorStop': {
        const call = this.callOfChannel(frame, at);
        if (call) call.recording = event === 'MixMonitorStart' || call.recording;
        return out;
      }
      case 'OriginateResponse':
        this.onOriginateResponse(frame, at, out);
        return out;
      default:
        return out;
    }
  }

  /** Before sending Originate: the call it creates is the engine's `callId`. */
  expectOriginate(originate: ExpectedOriginate): void {
    // Bounded: an Originate whose call never showed (the link dropped) must not be kept forever.
    if (this.originates.size >= 1_000) {
      const oldest = this.originates.keys().next();
      if (oldest.done !== true) this.originates.delete(oldest.value);
    }
    this.originates.set(originate.channelId, originate);
    if (originate.actionId !== undefined) this.originateByAction.set(originate.actionId, originate.channelId);
  }

  /** Asterisk has no event for a Redirect: the adapter reports the transfer it carried out. */
  transferred(callId: string, to: string, now: number): MappedEvent[] {
    const call = this.callById(callId);
    if (!call) return [];
    const out: MappedEvent[] = [];
    if (!this.announce(call, out)) return out;
    for (const ext of call.ringing) if (ext !== to) this.stopRinging(call, ext, now, out);
    // The queue's dial to `to` ends with the Redirect; the phone rings on by the new dial.
    for (const id of call.channels) if (this.channels.get(id)?.ext === to) call.superseded.add(id);
    out.push({ type: 'call.transferred', callId: call.callId, at: now, to });
    return out;
  }

  /**
   * The channel that carries the caller of `callId` (what Redirect moves): the call's first
   * channel that is not an office phone, or of a Local pair the `;2` half, the one running the
   * dialplan. Undefined when the call is unknown or over.
   */
  /** Whether a call by this id is known (live, or ended and still remembered). */
  knows(callId: string): boolean {
    return this.callById(callId) !== undefined;
  }

  callerChannelOf(callId: string): string | undefined {
    const call = this.callById(callId);
    if (!call) return undefined;
    let first: Channel | undefined;
    for (const id of call.channels) {
      const channel = this.channels.get(id);
      if (channel && channel.ext === null) {
        first = channel;
        break;
      }
    }
    if (!first) return undefined;
    if (first.name.endsWith(';1')) {
      const second = `${first.name.slice(0, -1)}2`;
      for (const id of call.channels) if (this.channels.get(id)?.name === second) return second;
    }
    return first.name;
  }

  /**
   * A reconnect begins: events from now on are newer than the channel list about to be asked
   * for, so channels they mention are not dropped when the list lacks them.
   */
  beginResync(): number {
    this.generation += 1;
    return this.generation;
  }

  /**
   * The `CoreShowChannel` list after a reconnect. Channels we knew that are gone hung up while the
   * link was down; channels we did not know began meanwhile; known ones may have moved on (rung,
   * been answered). Each difference goes through the same handlers as a live event, so a call is
   * reported once, whether its events came live, from the list, or both.
   */
  endResync(marker: number, list: readonly AmiFrame[], now: number): MappedEvent[] {
    this.resyncing = true;
    try {
      return this.resync(marker, list, now);
    } finally {
      this.resyncing = false;
    }
  }

  private resync(marker: number, list: readonly AmiFrame[], now: number): MappedEvent[] {
    const out: MappedEvent[] = [];
    const listed = new Map<string, AmiFrame>();
    for (const frame of list) {
      const id = field(frame, 'Uniqueid');
      if (id !== undefined && id !== '') listed.set(id, frame);
    }
    for (const channel of [...this.channels.values()]) {
      if (listed.has(channel.uniqueid) || channel.touched >= marker) continue;
      this.onHangup({ Uniqueid: channel.uniqueid, Channel: channel.name }, now, out);
    }
    // A call's first channel first, so a call found only now gets its direction right.
    const fresh = [...listed.values()].sort(
      (a, b) =>
        Number(field(b, 'Uniqueid') === field(b, 'Linkedid')) -
        Number(field(a, 'Uniqueid') === field(a, 'Linkedid')),
    );
    for (const frame of fresh) {
      const id = field(frame, 'Uniqueid') ?? '';
      if (this.gone.has(id)) continue;
      const startedAt = now - durationMs(field(frame, 'Duration'));
      const known = this.channels.get(id);
      // Live events since the reconnect are newer than this list: they win.
      if (known && known.touched >= marker) continue;
      const previous = known?.state;
      this.callOfChannel(frame, startedAt);
      const channel = this.channels.get(id);
      if (!channel) continue;
      channel.touched = marker;
      const state = field(frame, 'ChannelStateDesc') ?? '';
      if (state !== '' && state !== previous)
        this.onNewstate({ ...frame, Event: 'Newstate', ChannelStateDesc: state }, now, out);
      const bridge = field(frame, 'BridgeId') ?? '';
      if (bridge !== '' && known?.bridged !== true) this.onBridgeEnter(frame, now, out);
    }
    if (this.pendingOut.length > 0) out.push(...this.pendingOut.splice(0));
    return out;
  }

  // --- channels and calls -------------------------------------------------------------------------

  private callById(callId: string): Call | undefined {
    const linkedid = this.linkedidOfCall.get(callId);
    return linkedid === undefined ? undefined : this.calls.get(linkedid);
  }

  /**
   * The channel an event is about, created when first heard of (a Newchannel, or any event of a
   * channel that began while the link was down). A channel that hung up is never brought back by
   * a late event of it.
   */
  private channelOf(frame: AmiFrame, at: number, prefix = ''): Channel | undefined {
    const uniqueid = field(frame, `${prefix}Uniqueid`);
    if (uniqueid === undefined || uniqueid === '') return undefined;
    let channel = this.channels.get(uniqueid);
    const linkedid = field(frame, `${prefix}Linkedid`);
    if (channel === undefined) {
      const name = field(frame, `${prefix}Channel`);
      if (name === undefined || name === '' || this.gone.has(uniqueid)) return undefined;
      const lid = linkedid === undefined || linkedid === '' ? uniqueid : linkedid;
      if (this.ended.has(lid)) return undefined;
      // A call is begun by its first channel only: a later channel of a call we never saw begin
      // (we connected mid-call) would give it the wrong direction. The channel list fills it in.
      if (
        !this.resyncing &&
        uniqueid !== lid &&
        !this.calls.has(lid) &&
        field(frame, 'Event') !== 'Newchannel'
      )
        return undefined;
      channel = {
        uniqueid,
        name,
        linkedid: lid,
        ext: this.devices.extensionOf(name),
        state: field(frame, `${prefix}ChannelStateDesc`) ?? '',
        bridged: false,
        touched: this.generation,
      };
      this.channels.set(uniqueid, channel);
      this.join(channel, frame, at, prefix);
      return channel;
    }
    channel.touched = this.generation;
    // Bridging two calls can hand a channel the other call's Linkedid: it moves with it.
    if (
      linkedid !== undefined &&
      linkedid !== '' &&
      linkedid !== channel.linkedid &&
      !this.ended.has(linkedid)
    ) {
      const old = this.calls.get(channel.linkedid);
      old?.channels.delete(uniqueid);
      channel.linkedid = linkedid;
      this.join(channel, frame, at, prefix);
      if (old && old.channels.size === 0) this.endCall(old, at, this.pendingOut);
    }
    return channel;
  }

  /** Where `endCall` writes when a Linkedid move ends a call mid-event. */
  private pendingOut: MappedEvent[] = [];

  private join(channel: Channel, frame: AmiFrame, at: number, prefix: string): void {
    let call = this.calls.get(channel.linkedid);
    if (call === undefined) {
      const originate = this.originates.get(channel.linkedid);
      const exten = field(frame, `${prefix}Exten`) ?? '';
      const number = field(frame, `${prefix}CallerIDNum`);
      if (originate) this.originates.delete(channel.linkedid);
      const outbound = originate !== undefined || channel.ext !== null;
      call = {
        linkedid: channel.linkedid,
        callId: originate?.callId ?? channel.linkedid,
        startedAt: at,
        direction: outbound ? 'outbound' : 'inbound',
        originPair: pairOf(channel.name),
        originated: originate !== undefined,
        from: originate?.extension ?? channel.ext ?? (unknownNumber(number) ? '' : (number ?? '')),
        to: originate?.number ?? exten,
        // Ours: the engine is waiting for it, and everything about it is known already.
        announced: false,
        channels: new Set(),
        ringing: new Set(),
        rang: false,
        sawBusy: false,
        answeredBy: null,
        lastDial: null,
        abandoned: false,
        recordingFile: null,
        recording: false,
        featureCode: false,
        superseded: new Set(),
      };
      this.calls.set(call.linkedid, call);
      this.linkedidOfCall.set(call.callId, call.linkedid);
    }
    call.channels.add(channel.uniqueid);
  }

  private callOfChannel(frame: AmiFrame, at: number): Call | undefined {
    const channel = this.channelOf(frame, at);
    if (!channel) return undefined;
    const call = this.calls.get(channel.linkedid);
    if (call && !call.announced && call.direction === 'inbound' && pairOf(channel.name) === call.originPair) {
      // The caller's number often comes a moment after the channel (NewCallerid).
      const number = field(frame, 'CallerIDNum');
      if (!unknownNumber(number) && number !== undefined) call.from = number;
      const exten = field(frame, 'Exten');
      if ((call.to === '' || call.to === 's') && exten !== undefined && exten !== 's') call.to = exten;
    }
    return call;
  }

  /** Reports the call's start, once; false for a call that is not to be reported (a feature code). */
  private announce(call: Call, out: MappedEvent[]): boolean {
    if (call.announced) return !call.featureCode;
    call.announced = true;
    if (call.direction === 'outbound' && !call.originated && isFeatureCode(call.to)) {
      call.featureCode = true;
      return false;
    }
    out.push({
      type: 'call.started',
      callId: call.callId,
      at: call.startedAt,
      direction: call.direction,
      from: call.from,
      to: call.to,
    });
    return true;
  }

  // --- what rings, who answers --------------------------------------------------------------------

  private ring(call: Call, ext: string, at: number, out: MappedEvent[]): void {
    if (call.ringing.has(ext) || call.answeredBy === ext) return;
    // An outgoing call rings its own phone only when the bridge originated it (click-to-call).
    if (call.direction === 'outbound' && ext === call.from && !call.originated) return;
    if (!this.announce(call, out)) return;
    call.ringing.add(ext);
    call.rang = true;
    out.push({ type: 'call.ringing', callId: call.callId, at, extensions: [ext] });
  }

  private stopRinging(call: Call, ext: string, at: number, out: MappedEvent[]): void {
    if (!call.ringing.delete(ext)) return;
    out.push({ type: 'call.ring_stopped', callId: call.callId, at, extensions: [ext] });
  }

  private answer(call: Call, ext: string, at: number, out: MappedEvent[]): void {
    if (call.answeredBy === ext) return;
    if (!this.announce(call, out)) return;
    call.answeredBy = ext;
    call.ringing.delete(ext);
    const others = [...call.ringing];
    call.ringing.clear();
    out.push({ type: 'call.answered', callId: call.callId, at, extension: ext });
    if (others.length > 0)
      out.push({ type: 'call.ring_stopped', callId: call.callId, at, extensions: others });
  }

  private onNewstate(frame: AmiFrame, at: number, out: MappedEvent[]): void {
    const channel = this.channelOf(frame, at);
    if (!channel) return;
    const state = field(frame, 'ChannelStateDesc') ?? '';
    channel.state = state;
    const call = this.calls.get(channel.linkedid);
    if (!call || channel.ext === null) return;
    if (state === 'Ringing') this.ring(call, channel.ext, at, out);
    else if (state === 'Busy') call.sawBusy = true;
  }

  private onDialBegin(frame: AmiFrame, at: number, out: MappedEvent[]): void {
    const source = this.channelOf(frame, at);
    const dest = this.channelOf(frame, at, 'Dest');
    const call = this.calls.get((dest ?? source)?.linkedid ?? '');
    if (!call) return;
    // A phone dialling out: only now is the number it dialled known.
    if (!call.announced && call.direction === 'outbound' && !call.originated && source?.ext === call.from) {
      if (dest?.ext === call.from) return;
      // A phone's own channel names what it dialled; one Asterisk created (an Originate) does not.
      if (call.to === '' || call.to === 's' || call.to === call.from) {
        const to = field(frame, 'DestExten') ?? '';
        call.to = to !== '' && to !== 's' ? to : (field(frame, 'DialString') ?? call.to);
      }
    }
    if (call.direction === 'inbound' || source?.ext === call.from || call.originated)
      this.announce(call, out);
  }

  private onDialEnd(frame: AmiFrame, at: number, out: MappedEvent[]): void {
    this.channelOf(frame, at);
    const dest = this.channelOf(frame, at, 'Dest');
    if (!dest) return;
    const call = this.calls.get(dest.linkedid);
    if (!call) return;
    const status = field(frame, 'DialStatus') ?? '';
    const outbound = call.direction === 'outbound';
    if (status === 'ANSWER') {
      if (dest.ext !== null) {
        // The agent picked up their own click-to-call: the call is answered when the far end is.
        if (outbound && dest.ext === call.from) call.ringing.delete(dest.ext);
        else this.answer(call, dest.ext, at, out);
      } else if (outbound && call.from !== '') this.answer(call, call.from, at, out);
      return;
    }
    if (dest.ext !== null && !call.superseded.has(dest.uniqueid)) this.stopRinging(call, dest.ext, at, out);
    if (call.answeredBy === null && (dest.ext !== null || outbound)) call.lastDial = status;
  }

  private onBridgeEnter(frame: AmiFrame, at: number, out: MappedEvent[]): void {
    const channel = this.channelOf(frame, at);
    if (!channel) return;
    channel.bridged = true;
    const call = this.calls.get(channel.linkedid);
    if (!call || channel.ext === null) return;
    if (call.direction === 'outbound' && channel.ext === call.from) {
      // Alone in the bridge, the agent is still waiting for the far end.
      if (Number(field(frame, 'BridgeNumChannels') ?? '2') >= 2) this.answer(call, channel.ext, at, out);
      return;
    }
    this.answer(call, channel.ext, at, out);
  }

  private onAgent(event: string, frame: AmiFrame, at: number, out: MappedEvent[]): void {
    const call = this.callOfChannel(frame, at);
    if (!call) return;
    const iface = field(frame, 'Interface') ?? field(frame, 'DestChannel') ?? '';
    const ext =
      this.devices.extensionOf(iface) ?? this.devices.extensionOf(field(frame, 'DestChannel') ?? '');
    if (ext === null) return;
    if (event === 'AgentCalled') this.ring(call, ext, at, out);
    else if (event === 'AgentRingNoAnswer') {
      const leg = field(frame, 'DestChannel');
      const superseded = [...call.superseded].some((id) => this.channels.get(id)?.name === leg);
      if (!superseded) this.stopRinging(call, ext, at, out);
    } else this.answer(call, ext, at, out);
  }

  private onTransfer(event: string, frame: AmiFrame, at: number, out: MappedEvent[]): void {
    if (field(frame, 'Result') !== 'Success') return;
    const linkedid = field(frame, 'TransfereeLinkedid');
    const call = linkedid === undefined ? undefined : this.calls.get(linkedid);
    if (!call) return;
    let to: string | undefined;
    let talking = false;
    if (event === 'BlindTransfer') to = field(frame, 'Extension');
    else {
      const target = field(frame, 'TransferTargetChannel');
      const targetExt = target === undefined ? null : this.devices.extensionOf(target);
      // An attended transfer joins the caller to a phone that is already on the line.
      talking = targetExt !== null;
      to = targetExt ?? field(frame, 'SecondTransfererExten');
    }
    if (to === undefined || to === '') return;
    if (!this.announce(call, out)) return;
    out.push({ type: 'call.transferred', callId: call.callId, at, to });
    // A transfer only rings its target; the engine gives the call to it once it is answered.
    if (talking) out.push({ type: 'call.answered', callId: call.callId, at, extension: to });
  }

  private onOriginateResponse(frame: AmiFrame, at: number, out: MappedEvent[]): void {
    const actionId = field(frame, 'ActionID') ?? '';
    const channelId = this.originateByAction.get(actionId) ?? field(frame, 'Uniqueid') ?? '';
    this.originateByAction.delete(actionId);
    const originate = this.originates.get(channelId);
    if (!originate) return;
    this.originates.delete(channelId);
    if (field(frame, 'Response') === 'Success') return;
    // No channel ever existed: the call is reported as started and over, so the engine can finish it.
    const reason: EndReason =
      ({ '3': 'no_answer', '5': 'busy', '8': 'failed' }[field(frame, 'Reason') ?? ''] as
        EndReason | undefined) ?? 'failed';
    out.push(
      {
        type: 'call.started',
        callId: originate.callId,
        at,
        direction: 'outbound',
        from: originate.extension,
        to: originate.number,
      },
      { type: 'call.ended', callId: originate.callId, at, reason },
    );
  }

  // --- the end ------------------------------------------------------------------------------------

  private onHangup(frame: AmiFrame, at: number, out: MappedEvent[]): void {
    const channel = this.channelOf(frame, at);
    if (!channel) return;
    this.channels.delete(channel.uniqueid);
    this.gone.add(channel.uniqueid);
    const call = this.calls.get(channel.linkedid);
    if (!call) return;
    call.channels.delete(channel.uniqueid);
    if (field(frame, 'Cause') === '17') call.sawBusy = true;
    if (channel.ext !== null && call.answeredBy !== channel.ext && !call.superseded.has(channel.uniqueid)) {
      let still = false;
      for (const id of call.channels) if (this.channels.get(id)?.ext === channel.ext) still = true;
      if (!still) this.stopRinging(call, channel.ext, at, out);
    }
    if (call.channels.size === 0) this.endCall(call, at, out);
  }

  private endCall(call: Call, at: number, out: MappedEvent[]): void {
    const reported = this.announce(call, out);
    this.calls.delete(call.linkedid);
    this.linkedidOfCall.delete(call.callId);
    this.ended.add(call.linkedid);
    if (!reported) return;
    out.push({ type: 'call.ended', callId: call.callId, at, reason: this.reasonOf(call) });
    // MixMonitor closes its file when its channel goes: with the call over, the file is complete.
    if (call.recording && call.recordingFile !== null && call.answeredBy !== null)
      out.push({ type: 'asterisk.recording', callId: call.callId, at, file: call.recordingFile });
  }

  private reasonOf(call: Call): EndReason {
    if (call.answeredBy !== null) return 'completed';
    if (call.abandoned) return 'cancelled';
    switch (call.lastDial) {
      case 'BUSY':
        return call.rang ? 'no_answer' : 'busy';
      case 'CANCEL':
        return 'cancelled';
      case 'NOANSWER':
        return 'no_answer';
      case 'CHANUNAVAIL':
      case 'CONGESTION':
        return call.rang ? 'no_answer' : 'failed';
      default:
        if (call.sawBusy && !call.rang) return 'busy';
        return call.rang ? 'cancelled' : 'no_answer';
    }
  }
}
