import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const bin = fileURLToPath(new URL('../bin/b24-emulator.js', import.meta.url));
const children: ChildProcessWithoutNullStreams[] = [];

/** Starts `b24-emulator` as a real process and resolves with its printed base URL. */
async function startCli(args: string[]): Promise<{ child: ChildProcessWithoutNullStreams; url: string }> {
  const child = spawn(process.execPath, [bin, ...args], { stdio: 'pipe' });
  children.push(child);
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m?.[1]) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`exited with ${String(code)} before listening: ${out}`)));
  });
  return { child, url };
}

async function runToExit(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [bin, ...args], { stdio: 'pipe' });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stderr };
}

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
});

describe('npx b24-emulator', () => {
  it('prints its base URL, serves the seed portal through the webhook and the inspection API, and stops on SIGTERM', async () => {
    const { child, url } = await startCli(['--port', '0', '--host', '127.0.0.1']);
    const users = (await (
      await fetch(`${url}/rest/1/emulator/user.get?FILTER%5BUF_PHONE_INNER%5D=102`)
    ).json()) as { result: { ID: string; NAME: string; LAST_NAME: string }[]; total: number };
    expect(users.total).toBe(1);
    expect(users.result[0]).toMatchObject({ ID: '3', NAME: 'Boris', LAST_NAME: 'Smirnov' });
    const cards = await fetch(`${url}/_emulator/cards`);
    expect(cards.status).toBe(200);
    expect(await cards.json()).toEqual([]);
    const requests = (await (await fetch(`${url}/_emulator/requests`)).json()) as {
      method: string;
      auth: string;
    }[];
    expect(requests).toEqual([expect.objectContaining({ method: 'user.get', auth: 'webhook', status: 200 })]);
    child.kill('SIGTERM');
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(0);
  });

  it('loads a seed file given with --seed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'b24-seed-'));
    const file = join(dir, 'seed.json');
    writeFileSync(
      file,
      JSON.stringify({
        memberId: 'custom-member',
        users: [{ id: 7, name: 'Olga', lastName: 'Sokolova', extension: '201', admin: true }],
        webhooks: [{ userId: 7, secret: 'hook7' }],
      }),
    );
    const { url } = await startCli(['--port', '0', '--seed', file]);
    const res = (await (await fetch(`${url}/rest/7/hook7/user.get`)).json()) as { result: { ID: string }[] };
    expect(res.result.map((u) => u.ID)).toEqual(['7']);
    const settings = (await (await fetch(`${url}/_emulator/settings`)).json()) as { memberId: string };
    expect(settings.memberId).toBe('custom-member');
  });

  it('refuses a bad seed file and bad options with a clear message and exit code 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'b24-seed-'));
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ users: [{ id: 'x', name: 'Nobody' }] }));
    const badSeed = await runToExit(['--port', '0', '--seed', file]);
    expect(badSeed.code).toBe(2);
    expect(badSeed.stderr).toContain('users[0].id must be a positive integer');

    const notJson = join(dir, 'broken.json');
    writeFileSync(notJson, '{ users: ');
    const broken = await runToExit(['--port', '0', '--seed', notJson]);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toContain('is not valid JSON');

    const badPort = await runToExit(['--port', 'seventy']);
    expect(badPort.code).toBe(2);
    expect(badPort.stderr).toContain('--port must be a port number');

    const unknown = await runToExit(['--colour', 'blue']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('Usage: b24-emulator');
  });
});
