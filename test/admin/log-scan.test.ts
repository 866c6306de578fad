/**
 * No secret in the logs: a whole demo runs as a real process (the install flow, simulated calls
 * and calls of our own, a failed and a good admin login, an OAuth token refresh forced through the
 * emulator's clock) with debug logging, and its entire stdout and stderr are searched for every
 * secret value it used: the client secret, the admin password, the PBX token (given through the
 * environment, so the test knows them), the application token and every access and refresh token
 * the emulated portal issued (read from the bridge's own SQLite file, before and after the refresh).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { bridgeBin, stopProcess, waitFor } from '../e2e/processes.ts';

const secret = (label: string): string => `${label}-${randomBytes(16).toString('hex')}`;
const clientSecret = secret('client');
const adminPassword = secret('admin');
const pbxToken = secret('pbx');

let child: ChildProcess | undefined;
const temp = mkdtempSync(join(tmpdir(), 'b24-log-scan-'));

afterAll(async () => {
  await stopProcess(child);
  rmSync(temp, { recursive: true, force: true });
});

interface Tokens {
  accessToken: string;
  refreshToken: string;
}

function sqlitePath(): string | undefined {
  const demoDir = readdirSync(temp).find((d) => d.startsWith('b24-bridge-demo-'));
  const path = demoDir === undefined ? undefined : join(temp, demoDir, 'demo.sqlite');
  return path !== undefined && existsSync(path) ? path : undefined;
}

function readSecrets(path: string): { tokens: Tokens | undefined; applicationToken: string | null } {
  const db = new BetterSqlite3(path, { readonly: true, fileMustExist: true });
  try {
    const row = db.prepare('SELECT tokens FROM portal_tokens LIMIT 1').get() as
      { tokens: string } | undefined;
    const portal = db.prepare('SELECT application_token FROM portals LIMIT 1').get() as
      { application_token: string | null } | undefined;
    return {
      tokens: row ? (JSON.parse(row.tokens) as Tokens) : undefined,
      applicationToken: portal?.application_token ?? null,
    };
  } finally {
    db.close();
  }
}

describe('the logs of a full demo run', () => {
  it('hold none of the secrets the run used', async () => {
    let output = '';
    const proc = spawn(process.execPath, [bridgeBin, 'demo', '--port', '0', '--emulator-port', '0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        TMPDIR: temp,
        B24_BRIDGE_LOG_LEVEL: 'debug',
        B24_BRIDGE_BITRIX_CLIENT_SECRET: clientSecret,
        B24_BRIDGE_ADMIN_PASSWORD: adminPassword,
        B24_BRIDGE_PBX_DEMO_TOKEN: pbxToken,
      },
    });
    child = proc;
    proc.stdout.on('data', (d: Buffer) => (output += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const urls = await waitFor('the demo banner', () => {
      const admin = /admin:\s+(http:\/\/\S+?)\/?\s/.exec(output)?.[1];
      const emulator = /emulator:\s+(http:\/\/\S+?)\/_emulator\/?\s/.exec(output)?.[1];
      return Promise.resolve(admin && emulator ? { bridge: admin, emulator } : undefined);
    });
    const db = sqlitePath();
    expect(db, 'the demo keeps its SQLite file under TMPDIR').toBeDefined();
    const before = readSecrets(db!);
    expect(before.tokens?.accessToken.length).toBeGreaterThan(10);
    expect(before.applicationToken?.length).toBeGreaterThan(10);

    // Calls of our own beside the simulator's, with the PBX token.
    const start = Date.now();
    const at = (ms: number): string => new Date(start + ms).toISOString();
    for (let i = 0; i < 3; i += 1) {
      const callId = `scan-${String(i)}`;
      const res = await fetch(`${urls.bridge}/pbx/v1/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${pbxToken}` },
        body: JSON.stringify([
          {
            type: 'call.started',
            callId,
            direction: 'inbound',
            from: `+7916000000${String(i)}`,
            to: '101',
            at: at(0),
          },
          { type: 'call.ringing', callId, extensions: ['101'], at: at(100) },
          // Missed: an unanswered call is finished at once, with no recording to wait for.
          { type: 'call.ended', callId, reason: 'no_answer', at: at(5000) },
        ]),
      });
      expect(res.status).toBe(202);
    }
    // A wrong PBX token and a wrong and a good admin login: refusals must not echo what was sent.
    const refused = await fetch(`${urls.bridge}/pbx/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${pbxToken}x` },
      body: '[]',
    });
    expect(refused.status).toBe(401);
    for (const password of [`${adminPassword}x`, adminPassword]) {
      await fetch(`${urls.bridge}/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ password }).toString(),
        redirect: 'manual',
      });
    }
    await waitFor(
      'three of our calls finished in the portal',
      async () => {
        const calls = (await (await fetch(`${urls.emulator}/_emulator/calls`)).json()) as {
          externalCallId: string | null;
          finished: boolean;
        }[];
        const ours = calls.filter((c) => c.externalCallId?.startsWith('scan-') === true && c.finished);
        return ours.length >= 3 ? ours : undefined;
      },
      30_000,
    );

    // Two hours later on the portal's clock: the access token has expired, the next request
    // refreshes it (single-flight) and the portal issues a new pair.
    const clock = await fetch(`${urls.emulator}/_emulator/clock`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ advanceSec: 7200 }),
    });
    expect(clock.ok).toBe(true);
    const refreshCall = `scan-refresh`;
    await fetch(`${urls.bridge}/pbx/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${pbxToken}` },
      body: JSON.stringify([
        {
          type: 'call.started',
          callId: refreshCall,
          direction: 'inbound',
          from: '+79169990000',
          to: '102',
          at: at(10_000),
        },
        { type: 'call.ringing', callId: refreshCall, extensions: ['102'], at: at(10_100) },
      ]),
    });
    const after = await waitFor(
      'a token refresh',
      () => {
        const now = readSecrets(db!);
        return Promise.resolve(
          now.tokens && now.tokens.accessToken !== before.tokens?.accessToken ? now : undefined,
        );
      },
      30_000,
    );
    // The bridge carries on with the new token: the call's card comes up.
    await waitFor('the refreshed call registered', async () => {
      const calls = (await (await fetch(`${urls.emulator}/_emulator/calls`)).json()) as {
        externalCallId: string | null;
      }[];
      return calls.find((c) => c.externalCallId?.startsWith(`${refreshCall}@`) === true);
    });
    // And at least one call of the demo's own simulated office (its PBX speaks the API with the token).
    await waitFor(
      'a call of the simulator',
      async () => {
        const calls = (await (await fetch(`${urls.emulator}/_emulator/calls`)).json()) as {
          externalCallId: string | null;
        }[];
        return calls.find((c) => c.externalCallId?.startsWith('scan-') === false);
      },
      60_000,
    );
    // Every secret in a URL the server logs (a 404): the scrubber must know each one by value.
    const probe = new URLSearchParams({
      c: clientSecret,
      p: adminPassword,
      t: pbxToken,
      app: before.applicationToken ?? '',
      a0: before.tokens?.accessToken ?? '',
      r0: before.tokens?.refreshToken ?? '',
      a1: after.tokens?.accessToken ?? '',
      r1: after.tokens?.refreshToken ?? '',
    });
    expect((await fetch(`${urls.bridge}/log-scan-probe?${probe.toString()}`)).status).toBe(404);
    await waitFor('the probe in the log', () =>
      Promise.resolve(output.includes('/log-scan-probe') ? true : undefined),
    );
    await stopProcess(proc);

    const secrets: Record<string, string | undefined | null> = {
      clientSecret,
      adminPassword,
      pbxToken,
      applicationToken: before.applicationToken,
      accessToken: before.tokens?.accessToken,
      refreshToken: before.tokens?.refreshToken,
      refreshedAccessToken: after.tokens?.accessToken,
      refreshedRefreshToken: after.tokens?.refreshToken,
    };
    // The log is a real one: JSON lines of requests, the install, the PBX's events.
    expect(output).toContain('"msg":"incoming request"');
    expect(output).toContain('/bitrix/install');
    expect(output).toContain('/pbx/v1/events');
    expect(output).toMatch(
      /log-scan-probe\?c=\[redacted\]&p=\[redacted\]&t=\[redacted\]&app=\[redacted\]&a0=\[redacted\]/,
    );
    const found = Object.entries(secrets)
      .filter(([, value]) => {
        expect(value, 'every secret is known to the test').toEqual(expect.any(String));
        return typeof value === 'string' && output.includes(value);
      })
      .map(([name]) => name);
    console.log(
      `log scan: ${String(output.length)} characters, ${String(output.split('\n').length)} lines, ` +
        `${String(Object.keys(secrets).length)} secrets searched`,
    );
    expect(found).toEqual([]);
  }, 120_000);
});
