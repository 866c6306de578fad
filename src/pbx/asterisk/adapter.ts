/**
 * The Asterisk adapter: the AMI client, the mapper and the sink put together. Events are mapped as
 * they arrive and handed to the sink in order, one batch at a time; a batch the sink refuses is
 * offered again after a pause, since AMI cannot replay what it already sent. Each new AMI link
 * begins with `CoreShowChannels`, so what happened while the link was down is caught up on.
 */
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { PbxError, type PbxErrorCode } from '../errors.ts';
import type {
  OriginateCommand,
  PbxAdapter,
  PbxCommand,
  PbxEvent,
  PbxEventSink,
  TransferCommand,
} from '../types.ts';
import type { StoreRecording } from '../webhook/index.ts';
import { delay, type RetryPolicy } from '../../retry/index.ts';
import { AmiClient, defaultReconnectPolicy } from './client.ts';
import { deviceMap, type DeviceMap } from './devices.ts';
import { AmiError } from './errors.ts';
import type { AmiFrame } from './frames.ts';
import { AmiCallMapper, type AmiMode, type MappedEvent, type RecordingFinished } from './mapper.ts';
import { recordingReady, type RecordingSource } from './recordings.ts';

export interface AmiSettings {
  host: string;
  port: number;
  username: string;
  secret: string;
  /** Which channels are office phones: `PJSIP/{ext}`, `SIP/{ext}`, `Local/{ext}@from-queue`. */
  devicePattern?: string | readonly string[] | undefined;
  /** The dialplan context Originate and Redirect send calls into (FreePBX: `from-internal`). */
  context?: string | undefined;
  recordings?: RecordingSource | undefined;
  mode?: AmiMode | undefined;
}

export interface AsteriskAdapterOptions {
  pbxId: string;
  ami: AmiSettings;
  /** Where a recording read from `recordings.dir` goes; answers the `contentRef`. */
  storeRecording?: StoreRecording | undefined;
  now?: (() => number) | undefined;
  /** AMI reconnect pauses. */
  retry?: Partial<RetryPolicy> | undefined;
  /** Pauses between offers of a batch the sink refused. */
  deliveryRetry?: Partial<RetryPolicy> | undefined;
  actionTimeoutMs?: number | undefined;
  pingIntervalMs?: number | undefined;
  /** How long the PBX rings the agent's phone for a click-to-call. Default 30 s. */
  originateTimeoutMs?: number | undefined;
  /**
   * Events waiting in memory for the sink (which parks them in the store while no portal is
   * installed, so they wait here only while the sink fails, e.g. the store is down). Past it the
   * oldest not yet offered go, and `dropped` tells. Default 10,000.
   */
  maxQueued?: number | undefined;
  /**
   * The PBX's calls the bridge holds open (their call ids). After a resync, one the channel list
   * does not show is over: it ended while no link was up, maybe under another instance's link
   * (a takeover), so this adapter never saw it, and it is ended now.
   */
  openCalls?: (() => readonly string[]) | undefined;
  /** Told of what an operator should know; never given the AMI secret. */
  log?: ((level: 'info' | 'warn', message: string, data?: Record<string, unknown>) => void) | undefined;
}

interface AsteriskAdapterEvents {
  /** Logged in to AMI and caught up (`CoreShowChannels` applied). */
  synced: [info: { reconnect: boolean; channels: number }];
  down: [error: AmiError];
  /** A batch the sink accepted. */
  delivered: [events: readonly PbxEvent[]];
  /** Events dropped from memory past `maxQueued` while the sink refused them. */
  dropped: [count: number];
}

const MAX_COMMANDS = 10_000;

const pbxCodeOf = (e: AmiError): PbxErrorCode =>
  e.code === 'AMI_NOT_CONNECTED'
    ? 'PBX_UNREACHABLE'
    : e.code === 'AMI_ACTION_FAILED'
      ? 'COMMAND_REJECTED'
      : e.code === 'AMI_CLOSED'
        ? 'ADAPTER_STOPPED'
        : 'COMMAND_TIMEOUT';

export class AsteriskAdapter extends EventEmitter<AsteriskAdapterEvents> implements PbxAdapter {
  readonly kind = 'asterisk' as const;
  readonly pbxId: string;
  readonly mapper: AmiCallMapper;
  private readonly client: AmiClient;
  private readonly devices: DeviceMap;
  private readonly now: () => number;
  private readonly deliveryRetry: RetryPolicy;
  private sink: PbxEventSink | null = null;
  private queue: PbxEvent[] = [];
  /** How many of the queue's first events the sink has been offered and not yet answered. */
  private offered = 0;
  private dropWarned = false;
  private flushing: Promise<void> | null = null;
  private stopping = false;
  private readonly stopped = new AbortController();
  private readonly commands = new Map<string, Promise<void>>();
  private readonly recordingsInFlight = new Set<Promise<void>>();

  constructor(private readonly o: AsteriskAdapterOptions) {
    super();
    this.pbxId = o.pbxId;
    this.now = o.now ?? Date.now;
    this.deliveryRetry = { ...defaultReconnectPolicy, ...(o.deliveryRetry ?? {}) };
    const patterns = o.ami.devicePattern;
    this.devices = deviceMap(typeof patterns === 'string' ? [patterns] : patterns);
    this.mapper = new AmiCallMapper({ devices: this.devices, mode: o.ami.mode });
    this.client = new AmiClient({
      host: o.ami.host,
      port: o.ami.port,
      username: o.ami.username,
      secret: o.ami.secret,
      retry: o.retry,
      actionTimeoutMs: o.actionTimeoutMs,
      pingIntervalMs: o.pingIntervalMs,
    });
    this.client.on('event', (frame) => this.onFrame(frame));
    this.client.on('up', ({ reconnect }) => void this.resync(reconnect));
    this.client.on('down', (error) => {
      this.o.log?.('warn', 'AMI link down; reconnecting', { pbxId: this.pbxId, code: error.code });
      this.emit('down', error);
    });
  }

  /** Logged in now. */
  get connected(): boolean {
    return this.client.connected;
  }

  /** Resolves at once: the link comes up (and is kept up) in the background. */
  start(sink: PbxEventSink): Promise<void> {
    this.sink = sink;
    this.client.start();
    return Promise.resolve();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.stopped.abort();
    await this.client.close();
    await Promise.allSettled([...this.recordingsInFlight]);
    await this.flushing;
  }

  execute(command: PbxCommand): Promise<void> {
    const known = this.commands.get(command.commandId);
    if (known) return known;
    const run = command.type === 'originate' ? this.originate(command) : this.transfer(command);
    this.commands.set(command.commandId, run);
    if (this.commands.size > MAX_COMMANDS) {
      const oldest = this.commands.keys().next();
      if (oldest.done !== true) this.commands.delete(oldest.value);
    }
    // A command the PBX never took may be tried again; one that may have acted may not.
    run.catch((e: unknown) => {
      if (e instanceof PbxError && (e.code === 'PBX_UNREACHABLE' || e.code === 'COMMAND_REJECTED'))
        this.commands.delete(command.commandId);
    });
    return run;
  }

  private async originate(command: OriginateCommand): Promise<void> {
    const id = createHash('sha256').update(command.commandId).digest('hex').slice(0, 24);
    const channelId = `b24-${id}`;
    const actionId = `b24-o-${id}`;
    this.mapper.expectOriginate({
      channelId,
      actionId,
      callId: command.callId,
      extension: command.extension,
      number: command.number,
    });
    const shown = command.number.replace(/[^0-9+*#]/g, '');
    await this.act(command, 'Originate', actionId, {
      Channel: this.devices.channelOf(command.extension),
      Context: this.o.ami.context ?? 'from-internal',
      Exten: command.number,
      Priority: '1',
      // The agent's phone shows whom it is about to call; the number stays the extension's own.
      CallerID: `"${shown}" <${command.extension}>`,
      Timeout: String(this.o.originateTimeoutMs ?? 30_000),
      Async: 'true',
      ChannelId: channelId,
      OtherChannelId: `${channelId}-2`,
      Variable: `B24_CALL_ID=${command.callId}`,
    });
  }

  private async transfer(command: TransferCommand): Promise<void> {
    const channel = this.mapper.callerChannelOf(command.callId);
    if (channel === undefined)
      throw new PbxError('COMMAND_REJECTED', 'no call in progress by this id on this PBX', {
        pbxId: this.pbxId,
        commandId: command.commandId,
      });
    await this.act(
      command,
      'Redirect',
      undefined,
      {
        Channel: channel,
        Context: this.o.ami.context ?? 'from-internal',
        Exten: command.extension,
        Priority: '1',
      },
      // Before the new Dial's events, which may share the Response's TCP segment.
      () => this.enqueue(this.mapper.transferred(command.callId, command.extension, this.now())),
    );
  }

  private async act(
    command: PbxCommand,
    action: string,
    actionId: string | undefined,
    params: Record<string, string>,
    onAnswer?: () => void,
  ): Promise<void> {
    if (this.stopping)
      throw new PbxError('ADAPTER_STOPPED', 'the Asterisk adapter is stopped', {
        pbxId: this.pbxId,
        commandId: command.commandId,
      });
    try {
      await this.client.action(action, params, { actionId, onAnswer });
    } catch (cause) {
      const code = cause instanceof AmiError ? pbxCodeOf(cause) : 'COMMAND_TIMEOUT';
      throw new PbxError(code, `Asterisk ${action} failed (${code})`, {
        pbxId: this.pbxId,
        commandId: command.commandId,
        cause,
      });
    }
  }

  private onFrame(frame: AmiFrame): void {
    this.enqueue(this.mapper.push(frame, this.now()));
  }

  private async resync(reconnect: boolean): Promise<void> {
    const marker = this.mapper.beginResync();
    try {
      const result = await this.client.action('CoreShowChannels', {}, { timeoutMs: 30_000 });
      this.enqueue(this.mapper.endResync(marker, result.events, this.now()));
      this.endUnseen();
      this.o.log?.('info', reconnect ? 'AMI link back; calls caught up' : 'AMI link up', {
        pbxId: this.pbxId,
        channels: result.events.length,
      });
      this.emit('synced', { reconnect, channels: result.events.length });
    } catch (e) {
      // The link went again before the list came: the next link resyncs.
      this.o.log?.('warn', 'AMI channel list not read', {
        pbxId: this.pbxId,
        code: (e as { code?: string }).code,
      });
    }
  }

  /** Ends the calls the bridge holds open that the PBX no longer has (see `openCalls`). */
  private endUnseen(): void {
    const open = this.o.openCalls?.() ?? [];
    const over = open.filter((callId) => !this.mapper.knows(callId));
    if (over.length === 0) return;
    this.o.log?.('info', 'calls that ended while no AMI link was up are ended', {
      pbxId: this.pbxId,
      calls: over.length,
    });
    const at = this.now();
    this.enqueue(over.map((callId) => ({ type: 'call.ended' as const, callId, at })));
  }

  private enqueue(mapped: readonly MappedEvent[]): void {
    if (mapped.length === 0) return;
    for (const event of mapped) {
      if (event.type === 'asterisk.recording') this.fetchRecording(event);
      else this.push(event);
    }
    this.flushing ??= this.flush().finally(() => {
      this.flushing = null;
    });
  }

  private fetchRecording(done: RecordingFinished): void {
    const source = this.o.ami.recordings;
    if (source === undefined) return;
    const task = recordingReady(done, { source, storeRecording: this.o.storeRecording }, this.stopped.signal)
      .then((event) => {
        if (event === null) {
          this.o.log?.('warn', 'recording not found', { pbxId: this.pbxId, callId: done.callId });
          return;
        }
        this.push(event);
        this.flushing ??= this.flush().finally(() => {
          this.flushing = null;
        });
      })
      .catch((e: unknown) =>
        this.o.log?.('warn', 'recording not read', {
          pbxId: this.pbxId,
          callId: done.callId,
          error: String(e),
        }),
      )
      .finally(() => this.recordingsInFlight.delete(task));
    this.recordingsInFlight.add(task);
  }

  /** Queues an event; past `maxQueued` the oldest not in flight goes. */
  private push(event: PbxEvent): void {
    this.queue.push(event);
    const max = Math.max(this.o.maxQueued ?? 10_000, 1);
    if (this.queue.length <= max || this.queue.length <= this.offered) return;
    this.queue.splice(this.offered, 1);
    this.emit('dropped', 1);
    if (!this.dropWarned) {
      this.dropWarned = true;
      this.o.log?.('warn', `${String(max)} events wait in memory for the store: the oldest are dropped`, {
        pbxId: this.pbxId,
      });
    }
  }

  /** One batch in flight at a time, in order; a refused batch is offered again, whole. */
  private async flush(): Promise<void> {
    let attempt = 0;
    while (this.queue.length > 0 && this.sink !== null) {
      const batch = this.queue.slice(0, 500);
      this.offered = batch.length;
      try {
        await this.sink.deliver(batch);
        this.queue.splice(0, batch.length);
        this.offered = 0;
        attempt = 0;
        if (this.queue.length === 0) this.dropWarned = false;
        this.emit('delivered', batch);
      } catch (e) {
        this.offered = 0;
        if (this.stopping) return;
        this.o.log?.('warn', 'events not accepted; offering them again', {
          pbxId: this.pbxId,
          events: batch.length,
          error: (e as { code?: string }).code ?? (e as Error).name,
        });
        const pause = delay(this.deliveryRetry, ++attempt);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, pause);
          this.stopped.signal.addEventListener(
            'abort',
            () => {
              clearTimeout(timer);
              resolve();
            },
            { once: true },
          );
        });
        if (this.stopped.signal.aborted) return;
      }
    }
  }
}
