/**
 * A tiny request/answer protocol over a forked child's IPC channel: the bench asks its bridge,
 * naive and memory children for figures only they can see (their own clocks, their own heaps).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface Ask {
  id: number;
  type: string;
  body?: unknown;
}
export interface Answer {
  id: number;
  ok: boolean;
  body?: unknown;
  error?: string;
}
export interface Ready {
  type: 'ready';
  url?: string;
}

const repoRoot = fileURLToPath(new URL('..', import.meta.url));

export interface Child {
  process: ChildProcess;
  /** What the child said when it was ready (its URL for servers). */
  ready: Ready;
  ask<T>(type: string, body?: unknown, timeoutMs?: number): Promise<T>;
  output(): string;
  stop(): Promise<void>;
}

/** B24_BENCH_CPU_PROF=DIR: every child writes a V8 CPU profile there (a diagnostic for slow figures). */
function profiling(): string[] {
  const dir = process.env.B24_BENCH_CPU_PROF;
  return dir === undefined || dir === '' ? [] : ['--cpu-prof', `--cpu-prof-dir=${dir}`];
}

/** Forks `bench/<module>` under tsx and waits for its `ready` message. */
export async function forkChild(
  module: string,
  args: readonly string[],
  options: { execArgv?: readonly string[]; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<Child> {
  const path = fileURLToPath(new URL(module, import.meta.url));
  const child = fork(path, [...args], {
    cwd: repoRoot,
    execArgv: ['--import', 'tsx', ...profiling(), ...(options.execArgv ?? [])],
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let out = '';
  const keep = (d: Buffer): void => {
    out = (out + d.toString()).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let seq = 0;
  const ready = await new Promise<Ready>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${module} did not start:\n${out}`)),
      options.timeoutMs ?? 30_000,
    );
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${module} exited with ${String(code)}:\n${out}`));
    });
    child.on('message', (m: unknown) => {
      const msg = m as Partial<Ready & Answer>;
      if (msg.type === 'ready') {
        clearTimeout(timer);
        resolve(msg as Ready);
        return;
      }
      if (typeof msg.id !== 'number') return;
      const p = pending.get(msg.id);
      if (!p) return;
      pending.delete(msg.id);
      if (msg.ok === true) p.resolve(msg.body);
      else p.reject(new Error(`${module}: ${msg.error ?? 'failed'}`));
    });
  });
  child.once('exit', (code) => {
    for (const p of pending.values()) p.reject(new Error(`${module} exited with ${String(code)}:\n${out}`));
    pending.clear();
  });
  return {
    process: child,
    ready,
    output: () => out,
    ask: <T>(type: string, body?: unknown, timeoutMs = 600_000): Promise<T> =>
      new Promise<T>((resolve, reject) => {
        const id = ++seq;
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`${module}: no answer to ${type} in ${timeoutMs} ms`));
        }, timeoutMs);
        pending.set(id, {
          resolve: (v) => {
            clearTimeout(timer);
            resolve(v as T);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        });
        const ask: Ask = { id, type, body };
        child.send(ask);
      }),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** In a child: answers the parent's questions with `handlers`, and says it is ready. */
export function serveParent(
  handlers: Record<string, (body: unknown) => unknown>,
  ready: Omit<Ready, 'type'> = {},
): void {
  const send = (m: unknown): void => {
    process.send?.(m);
  };
  process.on('message', (m: unknown) => {
    const ask = m as Ask;
    const handler = handlers[ask.type];
    if (!handler) {
      send({ id: ask.id, ok: false, error: `no handler for ${ask.type}` } satisfies Answer);
      return;
    }
    Promise.resolve()
      .then(() => handler(ask.body))
      .then(
        (body) => send({ id: ask.id, ok: true, body } satisfies Answer),
        (e: unknown) =>
          send({ id: ask.id, ok: false, error: e instanceof Error ? e.message : String(e) } satisfies Answer),
      );
  });
  // The parent gone: nothing left to answer.
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready', ...ready });
}
