/**
 * An AMI client of our own, over `node:net`. What the npm clients got wrong, and this one keeps:
 * every action carries its own ActionID and only that reply settles it (never "the next
 * Response"); an action answered with a list of events (`EventList: start` … `Complete`)
 * resolves once, with the whole list; repeated keys stay (see `frames.ts`); a dropped link is
 * retried at once and then with growing pauses, and each new link is announced (`up`) so the
 * adapter can ask Asterisk what happened meanwhile.
 */
import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';
import { AmiError } from './errors.ts';
import { AmiParser, encodeAction, field, type AmiFrame } from './frames.ts';
import { delay, type RetryPolicy } from '../../retry/index.ts';

/** Reconnect pauses: 250 ms, doubling up to 15 s, ±20 % so that many bridges do not reconnect in step. */
export const defaultReconnectPolicy: RetryPolicy = {
  minDelayMs: 250,
  maxDelayMs: 15_000,
  factor: 2,
  jitter: 0.2,
  spread: 'around',
};

interface AmiClientOptions {
  host: string;
  port: number;
  username: string;
  /** Never logged, never put into an error message. */
  secret: string;
  retry?: Partial<RetryPolicy> | undefined;
  /** How long an action waits for its answer. Default 10 s. */
  actionTimeoutMs?: number | undefined;
  /** How long a TCP connect plus Login may take. Default 10 s. */
  connectTimeoutMs?: number | undefined;
  /** A `Ping` this often finds a silently dead link (NAT, firewall); 0: never. Default 20 s. */
  pingIntervalMs?: number | undefined;
  random?: (() => number) | undefined;
}

/** The answer to an action: its Response, and the events of a list answer. */
interface AmiResult {
  readonly response: AmiFrame;
  readonly events: readonly AmiFrame[];
}

interface AmiClientEvents {
  /** Every event that is not part of an action's answer, in wire order. */
  event: [frame: AmiFrame];
  /** Logged in; `reconnect` is false on the first link of this client. */
  up: [info: { reconnect: boolean; banner: string | undefined }];
  /** The link is gone (or could not be made); a reconnect is scheduled unless closed. */
  down: [error: AmiError];
}

interface Pending {
  readonly action: string;
  readonly resolve: (result: AmiResult) => void;
  readonly reject: (error: AmiError) => void;
  readonly timer: NodeJS.Timeout;
  response: AmiFrame | null;
  readonly events: AmiFrame[];
}

export class AmiClient extends EventEmitter<AmiClientEvents> {
  private readonly retry: RetryPolicy;
  private socket: Socket | null = null;
  private pending = new Map<string, Pending>();
  private nextId = 1;
  private attempt = 0;
  private loggedIn = false;
  private everUp = false;
  private closed = false;
  private started = false;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private pingTimer: NodeJS.Timeout | null = null;

  constructor(private readonly o: AmiClientOptions) {
    super();
    this.retry = { ...defaultReconnectPolicy, ...(o.retry ?? {}) };
  }

  get connected(): boolean {
    return this.loggedIn;
  }

  /** Starts connecting; from then on the client keeps a link up until `close`. */
  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    this.open();
  }

  /**
   * Sends an action and resolves with its answer. Rejects with `AMI_NOT_CONNECTED` when there is
   * no link (nothing was sent), `AMI_ACTION_FAILED` on `Response: Error`, `AMI_CONNECTION_LOST` or
   * `AMI_ACTION_TIMEOUT` when it was sent but not answered (Asterisk may have acted).
   */
  action(
    action: string,
    params: Readonly<Record<string, string | readonly string[] | undefined>> = {},
    options: {
      actionId?: string | undefined;
      timeoutMs?: number | undefined;
      /**
       * Called the moment the answer is read, before any event that follows it on the wire: what
       * the caller records about the action then comes before what the action caused.
       */
      onAnswer?: ((result: AmiResult) => void) | undefined;
    } = {},
  ): Promise<AmiResult> {
    if (!this.loggedIn || this.socket === null)
      return Promise.reject(new AmiError('AMI_NOT_CONNECTED', `no AMI link: ${action} not sent`, { action }));
    return this.send(action, params, options.actionId, options.timeoutMs, options.onAnswer);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.stopPing();
    const socket = this.socket;
    if (socket && !socket.destroyed) {
      // A polite Logoff, but never waited on for long: the process is going away.
      const gone = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      socket.end(encodeAction('Logoff', `b24-${String(this.nextId++)}`, {}));
      const timer = setTimeout(() => socket.destroy(), 500);
      await gone;
      clearTimeout(timer);
    }
    this.failPending(new AmiError('AMI_CLOSED', 'the AMI client was closed'));
  }

  private send(
    action: string,
    params: Readonly<Record<string, string | readonly string[] | undefined>>,
    actionId: string | undefined,
    timeoutMs: number | undefined,
    onAnswer?: (result: AmiResult) => void,
  ): Promise<AmiResult> {
    const socket = this.socket;
    if (socket === null)
      return Promise.reject(new AmiError('AMI_NOT_CONNECTED', `no AMI link: ${action} not sent`, { action }));
    const id = actionId ?? `b24-${String(this.nextId++)}`;
    return new Promise<AmiResult>((resolve, reject) => {
      const timer = setTimeout(
        () => {
          this.pending.delete(id);
          reject(new AmiError('AMI_ACTION_TIMEOUT', `no answer to ${action} in time`, { action }));
        },
        timeoutMs ?? this.o.actionTimeoutMs ?? 10_000,
      );
      const settle = (result: AmiResult): void => {
        onAnswer?.(result);
        resolve(result);
      };
      this.pending.set(id, { action, resolve: settle, reject, timer, response: null, events: [] });
      socket.write(encodeAction(action, id, params));
    });
  }

  private open(): void {
    if (this.closed) return;
    const parser = new AmiParser();
    const socket = connect({ host: this.o.host, port: this.o.port });
    this.socket = socket;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 10_000);
    let failure: AmiError | null = null;
    const connectTimer = setTimeout(() => {
      failure = new AmiError('AMI_CONNECT_FAILED', 'no AMI login within the connect timeout');
      socket.destroy();
    }, this.o.connectTimeoutMs ?? 10_000);

    socket.on('data', (chunk: Buffer) => {
      let frames: AmiFrame[];
      try {
        frames = parser.push(chunk);
      } catch (cause) {
        // The parser is total; this is a last guard so a bug there costs a reconnect, not the process.
        failure = new AmiError('AMI_CONNECTION_LOST', 'unreadable AMI data', { cause });
        socket.destroy();
        return;
      }
      for (const frame of frames) this.dispatch(frame);
    });
    socket.on('connect', () => {
      this.send(
        'Login',
        { Username: this.o.username, Secret: this.o.secret, Events: 'on' },
        undefined,
        undefined,
      )
        .then(() => {
          clearTimeout(connectTimer);
          if (this.socket !== socket || this.closed) return;
          this.loggedIn = true;
          this.attempt = 0;
          const reconnect = this.everUp;
          this.everUp = true;
          this.startPing(socket);
          this.emit('up', { reconnect, banner: parser.banner });
        })
        .catch((cause: unknown) => {
          failure =
            cause instanceof AmiError && cause.code === 'AMI_ACTION_FAILED'
              ? new AmiError('AMI_LOGIN_FAILED', 'Asterisk refused the AMI username or secret', { cause })
              : new AmiError('AMI_CONNECT_FAILED', 'AMI login got no answer', { cause });
          socket.destroy();
        });
    });
    socket.on('error', (cause) => {
      failure ??= new AmiError(
        'AMI_CONNECT_FAILED',
        `AMI link error (${(cause as { code?: string }).code ?? cause.name})`,
        {
          cause,
        },
      );
    });
    socket.on('close', () => {
      clearTimeout(connectTimer);
      if (this.socket !== socket) return;
      this.socket = null;
      this.loggedIn = false;
      this.stopPing();
      const error = failure ?? new AmiError('AMI_CONNECTION_LOST', 'the AMI link was closed');
      this.failPending(
        new AmiError('AMI_CONNECTION_LOST', 'the AMI link dropped before the answer', { cause: error }),
      );
      if (this.closed) return;
      this.emit('down', error);
      // The first retry after a drop is attempt 1 of the shared policy.
      const pause = delay(this.retry, ++this.attempt, this.o.random);
      this.reconnectTimer = setTimeout(() => {
        this.reconnectTimer = null;
        this.open();
      }, pause);
    });
  }

  private dispatch(frame: AmiFrame): void {
    const actionId = field(frame, 'ActionID');
    const pending = actionId === undefined ? undefined : this.pending.get(actionId);
    if (pending === undefined || actionId === undefined) {
      if (field(frame, 'Event') !== undefined) this.emit('event', frame);
      return;
    }
    const response = field(frame, 'Response');
    if (response !== undefined && pending.response === null) {
      if (response === 'Error' || response === 'Failure') {
        this.settle(actionId, pending);
        pending.reject(
          new AmiError('AMI_ACTION_FAILED', `${pending.action}: ${field(frame, 'Message') ?? response}`, {
            action: pending.action,
          }),
        );
        return;
      }
      pending.response = frame;
      if (field(frame, 'EventList')?.toLowerCase() !== 'start') {
        this.settle(actionId, pending);
        pending.resolve({ response: frame, events: [] });
      }
      return;
    }
    if (pending.response === null) {
      // An event of ours before the Response (never seen, but cheap to allow): a plain event.
      this.emit('event', frame);
      return;
    }
    if (field(frame, 'EventList')?.toLowerCase() === 'complete') {
      this.settle(actionId, pending);
      pending.resolve({ response: pending.response, events: pending.events });
      return;
    }
    pending.events.push(frame);
  }

  private settle(actionId: string, pending: Pending): void {
    clearTimeout(pending.timer);
    this.pending.delete(actionId);
  }

  private failPending(error: AmiError): void {
    const all = [...this.pending.values()];
    this.pending = new Map();
    for (const p of all) {
      clearTimeout(p.timer);
      p.reject(new AmiError(error.code, error.message, { action: p.action, cause: error.cause }));
    }
  }

  private startPing(socket: Socket): void {
    const every = this.o.pingIntervalMs ?? 20_000;
    if (every <= 0) return;
    this.pingTimer = setInterval(() => {
      this.send('Ping', {}, undefined, Math.min(every, 10_000)).catch(() => {
        // No answer: the link is dead even if TCP has not noticed; a reconnect finds out.
        if (this.socket === socket) socket.destroy();
      });
    }, every);
    this.pingTimer.unref();
  }

  private stopPing(): void {
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pingTimer = null;
  }
}
