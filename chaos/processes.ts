/**
 * The emulator and the bridge as real processes. The bridge's stdout and stderr go, across every
 * restart, into one log file: the run searches it for secrets at the end. Killing is SIGKILL: no
 * chance to tidy up, as in a crash.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const bridgeBin = fileURLToPath(new URL('../bin/b24-bridge.js', import.meta.url));
/** The chaos run tries the code as it is: the bridge runs its sources, not an earlier build. */
const childEnv = { ...process.env, B24_BRIDGE_FROM_SOURCES: '1' };
export const emulatorBin = fileURLToPath(new URL('../emulator/bin/b24-emulator.js', import.meta.url));

interface Started {
  child: ChildProcess;
  url: string;
  exited: Promise<void>;
}

/** Spawns and resolves with the first http URL of the line that says where it listens. */
function spawnListening(
  args: readonly string[],
  ready: RegExp,
  sink: (chunk: Buffer) => void,
  timeoutMs = 30_000,
): Promise<Started> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv });
  let tail = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise<Started>((resolve, reject) => {
    let listening = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${args.join(' ')} did not start within ${timeoutMs} ms:\n${tail}`));
    }, timeoutMs);
    const onData = (chunk: Buffer): void => {
      sink(chunk);
      tail = (tail + chunk.toString()).slice(-4000);
      if (listening) return;
      const url = ready.exec(tail)?.[1];
      if (url === undefined) return;
      listening = true;
      clearTimeout(timer);
      resolve({ child, url, exited });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void exited.then(() => {
      clearTimeout(timer);
      if (!listening)
        reject(
          new Error(`${args.join(' ')} exited (${String(child.exitCode ?? child.signalCode)}):\n${tail}`),
        );
    });
  });
}

/** Sends `signal`; a process still there after 3 s (a graceful close waiting on sockets) is killed. */
async function end(child: ChildProcess, exited: Promise<void>, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}

export interface EmulatorProcess {
  url: string;
  get<T>(path: string): Promise<T>;
  post<T>(path: string, body: unknown, method?: 'POST' | 'DELETE'): Promise<T>;
  stop(): Promise<void>;
}

export async function startEmulator(seedPath: string): Promise<EmulatorProcess> {
  let log = '';
  const started = await spawnListening(
    [emulatorBin, '--port', '0', '--seed', seedPath],
    /listening on (http:\/\/\S+)/,
    (chunk) => (log = (log + chunk.toString()).slice(-20_000)),
  );
  const base = `${started.url}/_emulator/`;
  return {
    url: started.url,
    async get<T>(path: string): Promise<T> {
      const res = await fetch(base + path, { signal: AbortSignal.timeout(30_000) });
      if (!res.ok) throw new Error(`GET /_emulator/${path}: ${res.status} ${await res.text()}`);
      return (await res.json()) as T;
    },
    async post<T>(path: string, body: unknown, method: 'POST' | 'DELETE' = 'POST'): Promise<T> {
      const res = await fetch(base + path, {
        method,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      });
      if (!res.ok) throw new Error(`${method} /_emulator/${path}: ${res.status} ${await res.text()}`);
      return (await res.json()) as T;
    },
    stop: () => end(started.child, started.exited, 'SIGTERM'),
  };
}

/**
 * `b24-bridge serve --config FILE`, restartable on the same port and SQLite file. Everything it
 * prints is appended to `logPath`.
 */
export class BridgeProcess {
  private current: Started | null = null;
  private readonly log: WriteStream;
  /** How many times it was killed, and how long it was down in all (ms). */
  kills = 0;
  downMs = 0;
  restarts = 0;

  constructor(
    private readonly configPath: string,
    logPath: string,
  ) {
    this.log = createWriteStream(logPath, { flags: 'a' });
  }

  get running(): boolean {
    const child = this.current?.child;
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  async start(): Promise<string> {
    this.current = await spawnListening(
      [bridgeBin, 'serve', '--config', this.configPath],
      /b24-bridge listening on (http:\/\/\S+)/,
      (chunk) => this.log.write(chunk),
    );
    return this.current.url;
  }

  /**
   * SIGKILL, then the same command again; resolves when it listens again. `down`: what happens
   * while it is dead (a click in the portal), and how long it stays dead before the restart.
   */
  async killAndRestart(
    down: { ms?: number; meanwhile?: (moment: 'killed' | 'restarting') => void } = {},
  ): Promise<void> {
    const started = performance.now();
    if (this.current) await end(this.current.child, this.current.exited, 'SIGKILL');
    this.kills++;
    down.meanwhile?.('killed');
    if ((down.ms ?? 0) > 0) {
      await new Promise((r) => setTimeout(r, down.ms));
      down.meanwhile?.('restarting');
    }
    // A restart that fails (a port still held, a slow start on a busy machine) is tried again.
    for (let attempt = 1; ; attempt++) {
      try {
        await this.start();
        break;
      } catch (e) {
        if (attempt >= 5) throw e;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    this.restarts++;
    this.downMs += performance.now() - started;
  }

  async stop(): Promise<void> {
    if (this.current) await end(this.current.child, this.current.exited, 'SIGTERM');
    this.current = null;
    await new Promise<void>((resolve) => this.log.end(() => resolve()));
  }
}

/** `b24-bridge status --config FILE`: its lines, as an operator would see them. */
export function bridgeStatus(configPath: string): Promise<string[]> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bridgeBin, 'status', '--config', configPath], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: childEnv,
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', () => resolve(out.split('\n').filter((l) => l.trim() !== '')));
  });
}
