/**
 * A PostgreSQL server of a run's own (a throwaway cluster in a temporary directory, on a free
 * port), so a test may stop and restart it without touching the database everyone else uses. It
 * needs the server's binaries (Debian's postgresql package) and, when run as root, the `postgres`
 * user to own the cluster; `privatePostgres()` answers why not when it cannot.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';

export interface PrivatePostgres {
  url: string;
  port: number;
  stop(): void;
  start(): void;
  restart(): void;
  /** Stops the server for good and deletes its files. */
  destroy(): void;
}

function binDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).sort((a, b) => Number(b) - Number(a));
  return versions.map((v) => join(root, v, 'bin')).find((d) => existsSync(join(d, 'pg_ctl')));
}

/** Why a private server cannot be made here, or undefined when it can. */
export function privatePostgresUnavailable(): string | undefined {
  if (binDir() === undefined)
    return 'PostgreSQL server binaries (/usr/lib/postgresql/*/bin) are not installed';
  if (process.getuid?.() === 0) {
    try {
      execFileSync('id', ['postgres'], { stdio: 'ignore' });
    } catch {
      return 'running as root without a postgres user to own a private cluster';
    }
  }
  return undefined;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export async function privatePostgres(): Promise<PrivatePostgres> {
  const bin = binDir();
  if (bin === undefined) throw new Error(privatePostgresUnavailable());
  const dir = mkdtempSync(join(tmpdir(), 'b24-pg-'));
  const asRoot = process.getuid?.() === 0;
  if (asRoot) execFileSync('chown', ['postgres', dir]);
  const run = (tool: string, args: string[]): void => {
    const command = join(bin, tool);
    if (asRoot)
      execFileSync('su', ['postgres', '-c', [command, ...args].map((a) => `'${a}'`).join(' ')], {
        stdio: 'ignore',
      });
    else execFileSync(command, args, { stdio: 'ignore' });
  };
  const data = join(dir, 'data');
  const port = await freePort();
  run('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres']);
  const options = `-p ${String(port)} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`;
  const start = (): void => run('pg_ctl', ['-D', data, '-o', options, '-l', join(dir, 'log'), '-w', 'start']);
  const stop = (): void => run('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
  start();
  return {
    url: `postgres://postgres@127.0.0.1:${String(port)}/postgres`,
    port,
    start,
    stop,
    restart: () => run('pg_ctl', ['-D', data, '-o', options, '-m', 'fast', '-w', 'restart']),
    destroy: () => {
      try {
        stop();
      } catch {
        // Already stopped.
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
