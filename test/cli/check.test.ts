/**
 * `b24-bridge check` against the world it checks: the emulated portal with the bridge installed
 * into it, the AMI fake as the Asterisk, a YAML configuration file. A ready setup passes; then
 * each kind of failure an integrator meets is made for real, and the check names it with its fix.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEmulator, type Emulator } from 'b24-emulator';
import type { Socket } from 'node:net';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, type Bridge } from '../../src/bridge/index.ts';
import { formatChecklist, runCheck, type CheckItem, type CheckReport } from '../../src/check/index.ts';
import { parseConfig, type BridgeConfigInput } from '../../src/config/index.ts';
import { bridgeBin, freePort, tempDir, waitFor } from '../e2e/processes.ts';
import { FakeAmi, type Action } from '../pbx/asterisk/fake-ami.ts';

const clientId = 'local.check.1';
const clientSecret = 'check-client-secret-0123';
const tmp = tempDir('b24-check-');
let emulator: Emulator;
let ami: FakeAmi;
let bridge: Bridge | undefined;
let port = 0;

/** What Asterisk answers a user with `write = originate,call,reporting` (and the always-allowed ones). */
function listCommands(actions: readonly string[]) {
  return (action: Action, socket: Socket): void => {
    const lines = actions.map((a) => `${a}: ${a} (Priv: all)\r\n`).join('');
    ami.reply(socket, action.ActionID ?? '', `Ping: Ping (Priv: <none>)\r\n${lines}`);
  };
}

/** A configuration file's document: its secrets come from the environment, so it lacks them. */
type FileDocument = Omit<BridgeConfigInput, 'bitrix' | 'pbx'> & {
  bitrix: Record<string, unknown>;
  pbx: Record<string, unknown>[];
};

function baseDocument(): FileDocument {
  return {
    server: { host: '127.0.0.1', port, publicUrl: `http://127.0.0.1:${port}` },
    store: { kind: 'sqlite', path: join(tmp.dir, 'bridge.sqlite') },
    // Push: the portal posts to the public URL (what most of these checks are about).
    bitrix: {
      mode: 'app',
      clientId,
      oauthUrl: `${emulator.url}/oauth/token/`,
      retry: { maxAttempts: 1 },
      events: 'push',
    },
    pbx: [
      {
        id: 'office',
        kind: 'asterisk',
        ami: { host: '127.0.0.1', port: ami.port, username: 'bridge', devicePattern: 'PJSIP/{ext}' },
      },
    ],
    engine: {
      lines: [
        {
          id: 'sales',
          number: '+74950000001',
          routing: { kind: 'queue', queue: { members: ['101', '102', '103'] } },
        },
      ],
      defaultUserId: 1,
    },
    logging: { level: 'warn' },
  };
}

/** The secrets, from the environment as an integrator keeps them. */
const env = {
  B24_BRIDGE_BITRIX_CLIENT_SECRET: clientSecret,
  B24_BRIDGE_PBX_OFFICE_TOKEN: 'check-pbx-token-1',
  B24_BRIDGE_PBX_OFFICE_AMI_SECRET: 'amisecret',
  B24_BRIDGE_ADMIN_PASSWORD: 'check-admin-password',
};

let files = 0;
/** A YAML configuration file: the base document with `change` applied. */
function configFile(change: (doc: FileDocument) => void = () => undefined): string {
  const doc = baseDocument();
  change(doc);
  const path = join(tmp.dir, `bridge-${String(files++)}.yaml`);
  writeFileSync(path, `# written by the check test\n${stringify(doc)}`);
  return path;
}

const check = (file: string): Promise<CheckReport> => runCheck({ file, env });
const item = (report: CheckReport, name: string): CheckItem | undefined =>
  report.items.find((i) => i.name === name);
const failures = (report: CheckReport): CheckItem[] => report.items.filter((i) => i.status === 'fail');
const codes = (report: CheckReport): (string | undefined)[] => failures(report).map((i) => i.code);

async function emulatorControl(path: string, body: unknown, method = 'POST'): Promise<unknown> {
  const res = await fetch(`${emulator.url}/_emulator/${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${method} /_emulator/${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

async function install(options: Record<string, unknown> = {}): Promise<void> {
  const installed = (await emulatorControl('apps', {
    clientId,
    clientSecret,
    installUrl: `http://127.0.0.1:${port}/bitrix/install`,
    scopes: ['telephony', 'crm', 'user'],
    ...options,
  })) as { installCallback?: { status: number | null } };
  expect(installed.installCallback?.status).toBe(200);
}

async function uninstall(): Promise<void> {
  await emulatorControl(`apps/${clientId}`, {}, 'DELETE');
}

beforeAll(async () => {
  emulator = await startEmulator({ port: 0 });
  ami = await FakeAmi.start();
  ami.handlers.set('ListCommands', listCommands(['Originate', 'Redirect', 'CoreShowChannels']));
  port = await freePort();
  const parsed = parseConfig(baseDocument(), env);
  if (!parsed.ok) throw parsed.error;
  bridge = await startBridge(parsed.config, { warn: () => undefined });
  await install();
  await waitFor('the portal connected', () => Promise.resolve(bridge?.portals.size === 1 ? true : undefined));
});

afterAll(async () => {
  await bridge?.close();
  await emulator.close();
  await ami.close();
  tmp.cleanup();
});

describe('b24-bridge check', () => {
  it('finds a ready setup ready: the file, the store, the portal, the public URL, the AMI login', async () => {
    const report = await check(configFile());
    expect(failures(report)).toEqual([]);
    expect(report.ready).toBe(true);
    expect(item(report, 'configuration')?.detail).toMatch(
      /^valid: bitrix app, 1 PBX \(office: asterisk\), 1 line/,
    );
    expect(item(report, 'bridge')?.detail).toMatch(/^running at/);
    expect(item(report, 'store')?.status).toBe('ok');
    expect(item(report, 'recordings directory')?.status).toBe('ok');
    const portalName = `portal ${new URL(emulator.url).host}`;
    const portal = report.items.filter((i) => i.name.startsWith(portalName));
    expect(portal.map((i) => [i.name.slice(portalName.length), i.status])).toEqual([
      ['', 'ok'],
      [': rights', 'ok'],
      [': events', 'ok'],
      [': extensions', 'ok'],
    ]);
    expect(item(report, 'public URL')?.detail).toContain('reaches the running bridge');
    expect(item(report, `pbx office: AMI 127.0.0.1:${ami.port}`)?.detail).toBe('logged in as bridge');
    expect(item(report, 'pbx office: AMI permissions')?.status).toBe('ok');
    // Only the unsealed store is worth a word.
    expect(report.items.filter((i) => i.status === 'warn').map((i) => i.name)).toEqual(['store key']);
    const text = formatChecklist(report).join('\n');
    expect(text).toMatch(/ready: everything the configuration names works \(1 warning\)$/);
    for (const secret of Object.values(env)) expect(text).not.toContain(secret);
  });

  it('refuses a configuration the bridge would refuse, naming the key, and tries nothing else', async () => {
    const file = configFile((doc) => {
      (doc.server as Record<string, unknown>).prot = 3000;
    });
    const report = await check(file);
    expect(report.ready).toBe(false);
    expect(report.items).toHaveLength(1);
    expect(report.items[0]).toMatchObject({ name: 'configuration', status: 'fail', code: 'CONFIG_INVALID' });
    expect(report.items[0]?.detail).toContain('server.prot: unknown key');
    expect(report.items[0]?.fix).toContain('docs/configuration.md');
  });

  it('says when the store cannot be opened, and when the recordings directory cannot be written', async () => {
    const blocker = join(tmp.dir, 'a-file');
    writeFileSync(blocker, 'not a directory');
    const store = await check(
      configFile((doc) => {
        doc.store = { kind: 'sqlite', path: join(blocker, 'bridge.sqlite') };
      }),
    );
    expect(item(store, 'store')).toMatchObject({ status: 'fail' });
    expect(item(store, 'store')?.fix).toContain('B24_BRIDGE_SQLITE_PATH');
    expect(item(store, 'portals')?.status).toBe('skip');

    const dir = join(tmp.dir, 'recordings-blocked');
    mkdirSync(dir);
    writeFileSync(join(dir, 'recordings'), 'a file where the directory belongs');
    const recordings = await check(
      configFile((doc) => {
        doc.store = { kind: 'sqlite', path: join(dir, 'bridge.sqlite') };
      }),
    );
    expect(item(recordings, 'recordings directory')).toMatchObject({
      status: 'fail',
      code: 'RECORDINGS_NOT_WRITABLE',
    });
    expect(item(recordings, 'recordings directory')?.detail).toContain(join(dir, 'recordings'));
    // A fresh store: nobody has installed the application into it.
    expect(item(recordings, 'portals')).toMatchObject({ status: 'fail', code: 'NO_PORTAL' });
    expect(item(recordings, 'portals')?.fix).toContain(`http://127.0.0.1:${port}/bitrix/install`);
  });

  it('says when PostgreSQL cannot be reached, never printing its URL', async () => {
    const url = `postgres://bridge:pg-secret-password@127.0.0.1:${String(await freePort())}/bridge`;
    const report = await runCheck({
      file: configFile((doc) => {
        doc.store = { kind: 'postgres' } as never;
      }),
      env: { ...env, B24_BRIDGE_POSTGRES_URL: url },
    });
    expect(item(report, 'store')).toMatchObject({ status: 'fail', code: 'STORE_UNAVAILABLE' });
    expect(item(report, 'store')?.detail).toContain('ECONNREFUSED');
    expect(formatChecklist(report).join('\n')).not.toContain('pg-secret-password');
  });

  it('says when the portal cannot be reached', async () => {
    await emulatorControl('faults', { outage: 'refuse' });
    try {
      const report = await check(configFile());
      const portal = failures(report).find((i) => i.name.startsWith('portal '));
      expect(portal).toMatchObject({ code: 'PORTAL_UNREACHABLE' });
      expect(portal?.detail).toMatch(/cannot be reached/);
    } finally {
      await fetch(`${emulator.url}/_emulator/faults`, { method: 'DELETE' });
    }
  });

  it('says which rights the application lacks, and an installation that was not finished', async () => {
    await uninstall();
    await install({ scopes: ['telephony', 'user'], installFinish: 'manual' });
    try {
      const report = await check(configFile());
      const rights = failures(report).find((i) => i.name.endsWith(': rights'));
      expect(rights).toMatchObject({ code: 'PORTAL_SCOPES_MISSING' });
      expect(rights?.detail).toBe('the application lacks the right crm (it has: telephony, user)');
      expect(rights?.fix).toMatch(/add crm to the application's rights/);
      expect(codes(report)).toContain('PORTAL_INSTALL_UNFINISHED');
    } finally {
      await uninstall();
      await install();
    }
    await waitFor('the portal connected again', () =>
      Promise.resolve(bridge?.portals.size === 1 ? true : undefined),
    );
    expect((await check(configFile())).ready).toBe(true);
  });

  it('says when the events go to another address than the public URL, and when that URL is not the bridge', async () => {
    const elsewhere = await check(
      configFile((doc) => {
        doc.server = { ...doc.server, publicUrl: emulator.url };
      }),
    );
    const events = failures(elsewhere).find((i) => i.name.endsWith(': events'));
    expect(events).toMatchObject({ code: 'PORTAL_EVENTS_ELSEWHERE' });
    expect(events?.detail).toContain(`(bound to http://127.0.0.1:${port}/bitrix/events)`);
    expect(item(elsewhere, 'public URL')).toMatchObject({ status: 'fail', code: 'PUBLIC_URL_ELSEWHERE' });
  });

  it('says when the public URL is missing, or leads nowhere', async () => {
    const missing = await check(
      configFile((doc) => {
        doc.server = { host: '127.0.0.1', port };
      }),
    );
    expect(item(missing, 'public URL')).toMatchObject({ status: 'fail', code: 'PUBLIC_URL_MISSING' });
    const closed = await freePort();
    const nowhere = await check(
      configFile((doc) => {
        doc.server = { ...doc.server, publicUrl: `http://127.0.0.1:${String(closed)}` };
      }),
    );
    expect(item(nowhere, 'public URL')).toMatchObject({ status: 'fail', code: 'PUBLIC_URL_UNREACHABLE' });
    expect(item(nowhere, 'public URL')?.detail).toContain('the connection was refused');
    expect(item(nowhere, 'public URL')?.fix).toContain(`forward http://127.0.0.1:${String(closed)}`);
  });

  it('says when the AMI login is refused, when the AMI user may not originate, and when AMI is not there', async () => {
    const refused = await runCheck({
      file: configFile(),
      env: { ...env, B24_BRIDGE_PBX_OFFICE_AMI_SECRET: 'a-wrong-secret' },
    });
    expect(codes(refused)).toEqual(['AMI_LOGIN_FAILED']);
    expect(failures(refused)[0]?.fix).toContain('manager.conf');
    expect(formatChecklist(refused).join('\n')).not.toContain('a-wrong-secret');

    ami.handlers.set('ListCommands', listCommands(['Redirect', 'CoreShowChannels']));
    try {
      const readOnly = await check(configFile());
      expect(codes(readOnly)).toEqual(['AMI_PERMISSION_MISSING']);
      expect(failures(readOnly)[0]?.detail).toBe(
        'may not send Originate (click-to-call and callbacks): needs write class originate',
      );
      expect(failures(readOnly)[0]?.fix).toContain('write = originate,call,reporting');
    } finally {
      ami.handlers.set('ListCommands', listCommands(['Originate', 'Redirect', 'CoreShowChannels']));
    }

    const closed = await freePort();
    const absent = await check(
      configFile((doc) => {
        const pbx = doc.pbx[0] as { ami: { port: number } };
        pbx.ami.port = closed;
      }),
    );
    expect(codes(absent)).toEqual(['AMI_UNREACHABLE']);
    expect(failures(absent)[0]?.detail).toContain('ECONNREFUSED');
  });

  it("says when a PBX's command URL cannot be reached, and when a PBX names a portal that is not installed", async () => {
    const closed = await freePort();
    const report = await check(
      configFile((doc) => {
        doc.pbx = [
          {
            id: 'office',
            kind: 'webhook',
            commandUrl: `http://127.0.0.1:${String(closed)}/commands?key=cmd-secret-1`,
          },
          { id: 'branch', token: 'check-branch-token', portal: 'branch.bitrix24.ru' },
        ];
      }),
    );
    expect(codes(report)).toEqual(['PBX_PORTAL_UNKNOWN', 'COMMAND_URL_UNREACHABLE']);
    expect(item(report, 'pbx office: command URL')?.detail).toBe(
      `http://127.0.0.1:${String(closed)}/…: the connection was refused (nothing listens there)`,
    );
    expect(formatChecklist(report).join('\n')).not.toContain('cmd-secret-1');
  });

  it('runs as the command line: exit code 0 when ready, 1 with the checklist when not', async () => {
    const run = (file: string) =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        const child = spawn(process.execPath, [bridgeBin, 'check', '--config', file], {
          env: { ...process.env, ...env },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr.on('data', (d: Buffer) => (out += d.toString()));
        child.once('exit', (code) => resolve({ code, out }));
      });
    const ready = await run(configFile());
    expect(ready.out).toContain('[ok  ] portal');
    expect(ready.out.trim().split('\n').at(-1)).toMatch(/^ready: /);
    expect(ready.code).toBe(0);
    const broken = await run(
      configFile((doc) => {
        doc.server = { host: '127.0.0.1', port };
      }),
    );
    expect(broken.out).toContain('[FAIL] public URL: server.publicUrl is not set');
    expect(broken.out).toContain('fix: set server.publicUrl');
    expect(broken.out.trim().split('\n').at(-1)).toBe('not ready: 2 problems to fix (1 warning)');
    expect(broken.code).toBe(1);
  });

  it('with the bridge stopped, proves the public URL with a one-time answer, and says when the tokens are refused', async () => {
    await bridge?.close();
    bridge = undefined;
    const stopped = await check(configFile());
    expect(item(stopped, 'bridge')?.detail).toMatch(/^not running/);
    expect(item(stopped, 'public URL')).toMatchObject({ status: 'ok' });
    expect(item(stopped, 'public URL')?.detail).toContain(`reaches this machine's 127.0.0.1:${port}`);
    expect(stopped.ready).toBe(true);

    // The application removed from the portal while the bridge was away: its tokens are dead.
    await uninstall();
    const refused = await check(configFile());
    const portal = failures(refused).find((i) => i.name.startsWith('portal '));
    expect(portal).toMatchObject({ code: 'PORTAL_TOKENS_REFUSED' });
    expect(portal?.fix).toContain(`http://127.0.0.1:${port}/bitrix/install`);
  });
});
