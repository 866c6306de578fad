import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

/**
 * What the short runs of the chaos tier share: a run (`chaos/main.ts`, `failover/main.ts`) as a
 * process with `--json`, its last line read as its figures, the lines before it printed.
 */
export async function runJson<F>(
  args: readonly string[],
): Promise<{ figures: F; out: string; err: string; code: number | null }> {
  const child = spawn(process.execPath, [...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const lines = out.trim().split('\n');
  const last = lines.at(-1) ?? '';
  expect(last.startsWith('{'), `${out}\n${err}`).toBe(true);
  const figures = JSON.parse(last) as F;
  console.log(lines.slice(0, -1).join('\n'));
  return { figures, out, err, code };
}
