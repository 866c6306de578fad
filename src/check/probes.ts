/**
 * The checks that go over the network: the public URL as the portal reaches it, an Asterisk's AMI
 * login and permissions, a PBX's command URL. Each gives up after a few seconds and names the
 * failure in the terms of the fix (DNS, refused, TLS, timeout), never with a secret.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { BridgeConfig } from '../config/index.ts';
import { AmiClient, AmiError, field, type AmiFrame } from '../pbx/asterisk/index.ts';
import { fail, ok, warn, type CheckItem } from './checklist.ts';

/** How long one probe may take before it counts as no answer. */
const PROBE_TIMEOUT_MS = 5_000;

/** Node's and undici's reasons a request got no answer, as a person would say them. */
function networkReason(e: unknown): { code: string; text: string } {
  const cause = (e as { cause?: unknown }).cause ?? e;
  const named = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
  const code = named((cause as { code?: unknown }).code) ?? named((e as { name?: unknown }).name) ?? 'ERROR';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN')
    return { code, text: 'its host name does not resolve (DNS)' };
  if (code === 'ECONNREFUSED') return { code, text: 'the connection was refused (nothing listens there)' };
  if (
    code === 'TimeoutError' ||
    code === 'AbortError' ||
    code === 'ETIMEDOUT' ||
    code === 'UND_ERR_CONNECT_TIMEOUT'
  )
    return { code: 'TIMEOUT', text: `no answer within ${PROBE_TIMEOUT_MS / 1000} s` };
  if (/CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY/.test(code))
    return { code, text: `its TLS certificate is not accepted (${code})` };
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') return { code, text: 'the connection was cut' };
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return { code, text: 'the host cannot be reached' };
  return { code, text: `no answer (${code})` };
}

/** Where the bridge of this configuration would listen, as seen from this host. */
function localUrl(config: BridgeConfig): string {
  const host = config.server.host;
  const local =
    host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '[::1]' : host.includes(':') ? `[${host}]` : host;
  return `http://${local}:${config.server.port}`;
}

/** The running bridge's `/healthz` at its local address, or null when nothing answers as one. */
export async function runningBridge(config: BridgeConfig): Promise<Record<string, unknown> | null> {
  try {
    const res = await fetch(`${localUrl(config)}/healthz`, { signal: AbortSignal.timeout(2_000) });
    const body: unknown = await res.json();
    return res.ok &&
      typeof body === 'object' &&
      body !== null &&
      (body as { status?: unknown }).status === 'ok'
      ? (body as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

/**
 * The public URL from outside the bridge's process, the way the portal reaches it. With the bridge
 * running, its `/healthz` must answer there. Without it, the check listens on the bridge's own
 * host and port for a moment and asks the public URL for a one-time answer: only this machine's
 * listener knows it, so an answer proves the proxy and the firewall lead here.
 */
export async function checkPublicUrl(config: BridgeConfig, running: boolean): Promise<CheckItem> {
  const name = 'public URL';
  const publicUrl = config.server.publicUrl?.replace(/\/+$/, '');
  if (publicUrl === undefined && config.bitrix.mode === 'app' && config.bitrix.events !== 'push')
    return ok(
      name,
      'not needed: outbound-only mode (bitrix.events "offline"), the bridge reads its events from the portal and uploads recordings',
    );
  if (publicUrl === undefined) {
    const fix =
      'set server.publicUrl (or B24_BRIDGE_PUBLIC_URL) to the https address of the reverse proxy in front of the bridge';
    return config.bitrix.mode === 'app'
      ? fail(
          name,
          'server.publicUrl is not set: Bitrix24 cannot reach the bridge for its events, the install callback and recordings',
          fix,
          'PUBLIC_URL_MISSING',
        )
      : warn(name, 'server.publicUrl is not set: the portal cannot download recordings the PBX uploads', fix);
  }
  const target = `${publicUrl}/healthz`;
  const unreachable = (e: unknown): CheckItem => {
    const reason = networkReason(e);
    const fix =
      reason.code === 'ENOTFOUND' || reason.code === 'EAI_AGAIN'
        ? `publish a DNS record for ${new URL(publicUrl).hostname}`
        : /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY/.test(reason.code)
          ? 'give the reverse proxy a certificate a browser accepts (Bitrix24 refuses self-signed ones)'
          : `make the reverse proxy and the firewall forward ${publicUrl} to ${localUrl(config)}`;
    return fail(name, `${target}: ${reason.text}`, fix, 'PUBLIC_URL_UNREACHABLE');
  };

  if (running) {
    try {
      const res = await fetch(target, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS), redirect: 'manual' });
      const body = (await res.json().catch(() => null)) as { status?: unknown } | null;
      if (res.status === 200 && body?.status === 'ok')
        return ok(name, `${publicUrl} reaches the running bridge (GET /healthz answered)`);
      return fail(
        name,
        `${target} answered HTTP ${res.status}, not as the bridge does`,
        `make the reverse proxy forward ${publicUrl} to ${localUrl(config)} (proxy_pass)`,
        'PUBLIC_URL_ELSEWHERE',
      );
    } catch (e) {
      return unreachable(e);
    }
  }

  const nonce = randomBytes(16).toString('hex');
  let server: Server;
  try {
    server = await listenOnce(config, nonce);
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    return fail(
      name,
      code === 'EADDRINUSE'
        ? `port ${config.server.port} of ${config.server.host} is taken by a program that is not this bridge`
        : `cannot listen on ${config.server.host}:${config.server.port} (${String(code ?? e)})`,
      code === 'EADDRINUSE'
        ? 'stop that program, or give the bridge another server.port'
        : 'set server.host to an address of this machine',
      'PORT_UNAVAILABLE',
    );
  }
  try {
    const res = await fetch(target, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS), redirect: 'manual' });
    const body = (await res.json().catch(() => null)) as { check?: unknown } | null;
    if (res.status === 200 && body?.check === nonce)
      return ok(name, `${publicUrl} reaches this machine's ${config.server.host}:${config.server.port}`);
    return fail(
      name,
      `${target} answered HTTP ${res.status}, but not from this machine's port ${config.server.port}`,
      `make the reverse proxy forward ${publicUrl} to ${localUrl(config)} (proxy_pass)`,
      'PUBLIC_URL_ELSEWHERE',
    );
  } catch (e) {
    return unreachable(e);
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

function listenOnce(config: BridgeConfig, nonce: string): Promise<Server> {
  const server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(req.url?.startsWith('/healthz') === true ? { status: 'ok', check: nonce } : {}));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.server.port, config.server.host, () => resolve(server));
  });
}

/** AMI actions the bridge sends, and the manager.conf write class each needs. */
const amiActions: readonly { action: string; permission: string; why: string }[] = [
  { action: 'Originate', permission: 'originate', why: 'click-to-call and callbacks' },
  { action: 'Redirect', permission: 'call', why: 'moving a call to its responsible manager' },
  { action: 'CoreShowChannels', permission: 'reporting', why: 'catching up after a reconnect' },
];

type Ami = NonNullable<BridgeConfig['pbx'][number]['ami']>;

/** Logs in once, asks `ListCommands` (it lists only the actions this user may send), logs off. */
export async function checkAmi(pbxId: string, ami: Ami): Promise<CheckItem[]> {
  const name = `pbx ${pbxId}: AMI ${ami.host}:${ami.port}`;
  const client = new AmiClient({
    host: ami.host,
    port: ami.port,
    username: ami.username,
    secret: ami.secret,
    connectTimeoutMs: PROBE_TIMEOUT_MS,
    actionTimeoutMs: PROBE_TIMEOUT_MS,
    pingIntervalMs: 0,
  });
  try {
    const login = await new Promise<{ up: true } | { up: false; error: AmiError }>((resolve) => {
      client.once('up', () => resolve({ up: true }));
      client.once('down', (error) => resolve({ up: false, error }));
      client.start();
    });
    if (!login.up) {
      if (login.error.code === 'AMI_LOGIN_FAILED')
        return [
          fail(
            name,
            `Asterisk refused the login of user ${ami.username}`,
            `check the secret of [${ami.username}] in manager.conf (FreePBX: Asterisk Manager Users) and that its permit= lets this host in, then asterisk -rx "manager reload"`,
            'AMI_LOGIN_FAILED',
          ),
        ];
      return [
        fail(
          name,
          `no AMI login: ${login.error.message}`,
          `enable AMI (manager.conf [general] enabled = yes, bindaddr) and open TCP ${ami.port} from this host to ${ami.host}`,
          'AMI_UNREACHABLE',
        ),
      ];
    }
    const listed = await client.action('ListCommands').then(
      (r): AmiFrame => r.response,
      () => null,
    );
    if (listed === null)
      return [
        ok(name, `logged in as ${ami.username}`),
        warn(
          `pbx ${pbxId}: AMI permissions`,
          'ListCommands was not answered: the permissions could not be read',
          'make sure manager.conf gives the user write = originate,call,reporting',
        ),
      ];
    const missing = amiActions.filter((a) => field(listed, a.action) === undefined);
    const items: CheckItem[] = [ok(name, `logged in as ${ami.username}`)];
    if (missing.length > 0)
      items.push(
        fail(
          `pbx ${pbxId}: AMI permissions`,
          missing
            .map((m) => `may not send ${m.action} (${m.why}): needs write class ${m.permission}`)
            .join('\n'),
          `set write = originate,call,reporting (and read = call,dialplan,agent) for [${ami.username}] in manager.conf, then asterisk -rx "manager reload"`,
          'AMI_PERMISSION_MISSING',
        ),
      );
    else
      items.push(
        ok(
          `pbx ${pbxId}: AMI permissions`,
          `may send ${amiActions.map((a) => a.action).join(', ')}; the events need read = call,dialplan,agent, which AMI does not show`,
        ),
      );
    return items;
  } finally {
    await client.close();
  }
}

/** A PBX's command URL answers at all (any HTTP status: a GET is not how commands are sent). */
export async function checkCommandUrl(pbxId: string, url: string): Promise<CheckItem> {
  const name = `pbx ${pbxId}: command URL`;
  const shown = `${new URL(url).origin}/…`;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS), redirect: 'manual' });
    await res.body?.cancel();
    return ok(name, `${shown} answers (HTTP ${res.status} to a GET; commands are POSTed)`);
  } catch (e) {
    const reason = networkReason(e);
    return fail(
      name,
      `${shown}: ${reason.text}`,
      'correct pbx[].commandUrl (B24_BRIDGE_PBX_<ID>_COMMAND_URL), or leave it out and let the PBX fetch its commands with GET /pbx/v1/commands',
      'COMMAND_URL_UNREACHABLE',
    );
  }
}
