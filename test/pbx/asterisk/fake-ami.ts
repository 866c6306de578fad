/**
 * A fake Asterisk manager for tests, over real TCP: the banner, Login, Ping, and a
 * `CoreShowChannels` answered from the channels its replayed stream left alive. Everything else
 * is replayed from the real captures in `test/fixtures/asterisk-ami/` (exact bytes), and actions
 * are answered by handlers a test sets. It parses what it receives with a few lines of its own,
 * not with the client's parser, so a parser bug cannot hide itself.
 */
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';

export const fixturesDir = new URL('../../fixtures/asterisk-ami/', import.meta.url);

/** A capture's messages, each as its exact text without the closing empty line. */
export function captureMessages(name: string): string[] {
  const raw = readFileSync(new URL(`${name}.raw.txt`, fixturesDir), 'utf8');
  return raw.split('\r\n\r\n').filter((m) => m.trim() !== '');
}

export type Action = Record<string, string>;

export interface FakeAmiEvents {
  action: [action: Action];
  login: [ok: boolean];
  /** A logged-in session ended (its TCP link closed). */
  logout: [];
}

interface LiveChannel {
  fields: Map<string, string>;
}

const headerOf = (message: string, key: string): string | undefined => {
  const m = new RegExp(`^${key}: (.*)$`, 'm').exec(message);
  return m?.[1];
};

export class FakeAmi extends EventEmitter<FakeAmiEvents> {
  readonly actions: Action[] = [];
  logins = 0;
  /** The most sessions that were logged in at the same moment. */
  maxLoggedIn = 0;
  username = 'bridge';
  secret = 'amisecret';
  /** Answers an action; return true when handled. */
  handlers = new Map<string, (action: Action, socket: Socket) => void>();
  private readonly clients = new Set<Socket>();
  private readonly live = new Map<string, LiveChannel>();
  private constructor(private readonly server: Server) {
    super();
  }

  static async start(): Promise<FakeAmi> {
    const server = createServer();
    const fake = new FakeAmi(server);
    server.on('connection', (socket) => fake.accept(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return fake;
  }

  /** Sessions logged in now. */
  get loggedIn(): number {
    return this.clients.size;
  }

  /** The client-side TCP ports of the sessions logged in now (which process holds one). */
  loggedInPorts(): number[] {
    return [...this.clients].flatMap((s) => (s.remotePort === undefined ? [] : [s.remotePort]));
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** Writes messages (capture text) to every logged-in client, tracking which channels live. */
  send(messages: readonly string[]): void {
    for (const m of messages) this.track(m);
    const bytes = messages.map((m) => `${m}\r\n\r\n`).join('');
    for (const socket of this.clients) socket.write(bytes);
  }

  /** Raw bytes, as they are (garbage tests). */
  sendRaw(bytes: string | Buffer): void {
    for (const socket of this.clients) socket.write(bytes);
  }

  /** Cuts every client's TCP link, as a network failure would. */
  drop(): void {
    for (const socket of this.clients) socket.destroy();
    this.clients.clear();
  }

  /** The next action of this name (already received or still to come). */
  nextAction(name: string, after = 0): Promise<Action> {
    const seen = this.actions.slice(after).find((a) => a.Action === name);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => {
      const on = (a: Action): void => {
        if (a.Action !== name) return;
        this.off('action', on);
        resolve(a);
      };
      this.on('action', on);
    });
  }

  reply(socket: Socket, actionId: string, lines: string): void {
    socket.write(`Response: Success\r\nActionID: ${actionId}\r\n${lines}\r\n`);
  }

  async close(): Promise<void> {
    this.drop();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: Socket): void {
    socket.setNoDelay(true);
    socket.write('Asterisk Call Manager/11.0.0\r\n');
    let buffer = '';
    let loggedIn = false;
    socket.on('error', () => undefined);
    socket.on('close', () => {
      if (this.clients.delete(socket)) this.emit('logout');
    });
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      let end: number;
      while ((end = buffer.indexOf('\r\n\r\n')) >= 0) {
        const text = buffer.slice(0, end);
        buffer = buffer.slice(end + 4);
        const action: Action = {};
        for (const line of text.split('\r\n')) {
          const i = line.indexOf(': ');
          if (i > 0) action[line.slice(0, i)] = line.slice(i + 2);
        }
        const id = action.ActionID ?? '';
        if (action.Action === 'Login') {
          const ok = action.Username === this.username && action.Secret === this.secret;
          this.logins += ok ? 1 : 0;
          if (ok) {
            loggedIn = true;
            this.reply(socket, id, 'Message: Authentication accepted\r\n');
            socket.write('Event: FullyBooted\r\nPrivilege: system,all\r\nStatus: Fully Booted\r\n\r\n');
            this.clients.add(socket);
            this.maxLoggedIn = Math.max(this.maxLoggedIn, this.clients.size);
          } else socket.write(`Response: Error\r\nActionID: ${id}\r\nMessage: Authentication failed\r\n\r\n`);
          this.emit('login', ok);
          continue;
        }
        if (!loggedIn) {
          socket.write(`Response: Error\r\nActionID: ${id}\r\nMessage: Permission denied\r\n\r\n`);
          continue;
        }
        this.actions.push(action);
        const handler = this.handlers.get(action.Action ?? '');
        if (handler) handler(action, socket);
        else if (action.Action === 'Ping') this.reply(socket, id, 'Ping: Pong\r\n');
        else if (action.Action === 'CoreShowChannels') this.showChannels(socket, id);
        else if (action.Action === 'Logoff') socket.end('Response: Goodbye\r\nMessage: Thanks\r\n\r\n');
        else socket.write(`Response: Error\r\nActionID: ${id}\r\nMessage: Invalid/unknown command\r\n\r\n`);
        this.emit('action', action);
      }
    });
  }

  /** Newchannel/Newstate/BridgeEnter/BridgeLeave/Hangup of what was sent: the PBX's channels now. */
  private track(message: string): void {
    const event = headerOf(message, 'Event');
    const id = headerOf(message, 'Uniqueid');
    if (event === undefined || id === undefined) return;
    if (event === 'Hangup') {
      this.live.delete(id);
      return;
    }
    let channel = this.live.get(id);
    if (event === 'Newchannel') {
      channel = { fields: new Map() };
      this.live.set(id, channel);
    }
    if (!channel) return;
    for (const key of ['Channel', 'ChannelState', 'ChannelStateDesc', 'CallerIDNum', 'Exten', 'Context']) {
      const value = headerOf(message, key);
      if (value !== undefined) channel.fields.set(key, value);
    }
    channel.fields.set('Uniqueid', id);
    channel.fields.set('Linkedid', headerOf(message, 'Linkedid') ?? id);
    if (event === 'BridgeEnter') channel.fields.set('BridgeId', headerOf(message, 'BridgeUniqueid') ?? '');
    if (event === 'BridgeLeave') channel.fields.set('BridgeId', '');
  }

  private showChannels(socket: Socket, id: string): void {
    let out = `Response: Success\r\nActionID: ${id}\r\nEventList: start\r\nMessage: Channels will follow\r\n\r\n`;
    for (const channel of this.live.values()) {
      out += `Event: CoreShowChannel\r\nActionID: ${id}\r\n`;
      for (const [k, v] of channel.fields) out += `${k}: ${v}\r\n`;
      if (!channel.fields.has('BridgeId')) out += 'BridgeId: \r\n';
      out += 'Duration: 00:00:05\r\n\r\n';
    }
    out += `Event: CoreShowChannelsComplete\r\nActionID: ${id}\r\nEventList: Complete\r\nListItems: ${String(this.live.size)}\r\n\r\n`;
    socket.write(out);
  }
}
