/**
 * The bridge as a Bitrix24 application: installs (callback or ONAPPINSTALL), the portal's events
 * (click-to-call, callbacks, uninstall, event tests) and the app page in the portal's frame.
 *
 * Nothing is done for an event before it is known to be genuine: its `ts` is recent, its
 * `member_id` names an installed portal and its `application_token` is the one that portal's
 * installation gave. An install (ONAPPINSTALL, the callback) is genuine only when the OAuth server
 * and the portal confirm that one of the portal's administrators made it (`verifyInstall`); it is
 * the only way a portal's tokens, domain or application token change.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { BitrixError, type AppCredentials, type BitrixClient } from '../bitrix/index.ts';
import type { CallbackRequested, ClickToCallRequested, PbxEvent } from '../core/index.ts';
import { sameSecret, SeenRecently } from '../security/index.ts';
import { checked, ServerError, type Refusal } from '../http/index.ts';
import { callbackData, clickToCallData, crmChangeData } from './event-data.ts';
import type { BitrixEvent, BitrixEventOutcome } from './event.ts';
import type { InstallCallback } from './install-callback.ts';
import type { AppPageHandler, AppPageView } from './page.ts';
import { originOf } from '../http/index.ts';
import type { PortalRecord, Store } from '../store/index.ts';
import { verifyInstall, verifyUserToken, type InstallClaim, type VerifiedInstall } from './verify.ts';
import { bindEvents, crmChangeEvents, registerLines } from './install.ts';
import type { PortalRuntime } from '../portal/index.ts';
import type { PortalTokens } from '../bitrix/index.ts';

interface BitrixAppDeps {
  app: AppCredentials;
  store: Store;
  client: BitrixClient;
  portals: Map<string, PortalRuntime>;
  /** Connects a newly installed portal (its outbox, directory, PBX wiring). */
  connect(record: PortalRecord, tokens: PortalTokens): Promise<PortalRuntime>;
  /** Where the portal sends events: the public URL, else where the server listens. */
  publicUrl(): string;
  /** The PBXes serving a portal (their ids), for the page. */
  pbxOf(memberId: string): string[];
  /**
   * Why installing this portal under this domain would leave the configuration ambiguous (a PBX
   * that would serve two portals), or null.
   */
  conflictOf?: ((memberId: string, domain: string) => string | null) | undefined;
  warn(message: string): void;
  /** What else of the portal's goes at an uninstall (files kept beside the store, recordings). */
  forget?: ((memberId: string) => Promise<void>) | undefined;
  /** Outbound-only: events are bound as offline events and read by the poller, not posted. */
  offlineEvents?: boolean | undefined;
  /** Events whose `ts` is older than this are refused. Default 10 minutes. */
  eventMaxAgeMs?: number | undefined;
  now?: () => number;
}

/** A Bitrix24 event whose fields are not what that event carries. */
const invalid = (message: string): Refusal => ({ code: 'INVALID_EVENT', status: 400, message });

const SESSION_MS = 3_600_000;
/** How long "Event test" waits for ONAPPTEST before saying the portal cannot reach the bridge. */
const EVENT_TEST_WAIT_MS = 5_000;
/** The caller of the page's test calls: a number no customer has. */
const TEST_CALLER = '+70000000000';
/** Installs checked at once; more wait for none of them and are told to try again. */
const MAX_VERIFYING = 8;
/** A refresh token an install check used (or that failed) is not sent to the OAuth server again. */
const TRIED_TOKEN_MS = 3_600_000;

/** Auth failures that say the app's tokens no longer work: what an uninstall leaves behind. */
const accessGone = new Set(['AUTH_FAILED', 'NEEDS_REINSTALL', 'ACCESS_DENIED']);

const digest = (secret: string): string => createHash('sha256').update(secret).digest('hex');

interface Session {
  memberId: string;
  admin: boolean;
}

export class BitrixApp implements AppPageHandler {
  private readonly sessionKey = randomBytes(32);
  private readonly eventTests = new Map<string, { sentAt: number; receivedAt: number | null }>();
  private readonly testCalls = new Map<string, { callId: string; extension: string }>();
  private testSeq = 0;
  /** Per portal: its installs change its state one at a time. */
  private readonly applying = new Map<string, Promise<unknown>>();
  private verifying = 0;
  private readonly triedTokens = new SeenRecently(TRIED_TOKEN_MS);
  private readonly replays: SeenRecently;
  private readonly now: () => number;
  private readonly eventMaxAgeMs: number;

  constructor(private readonly d: BitrixAppDeps) {
    this.now = d.now ?? Date.now;
    this.eventMaxAgeMs = d.eventMaxAgeMs ?? 600_000;
    this.replays = new SeenRecently(this.eventMaxAgeMs);
  }

  /** The install callback of the app's page: its form is only a claim until verified. */
  install(callback: InstallCallback): Promise<{ portalOrigin: string | null }> {
    return this.installClaimed({
      memberId: callback.memberId,
      refreshToken: callback.refreshToken,
      applicationToken: callback.applicationToken,
    });
  }

  /**
   * Any install path (the callback, ONAPPINSTALL, an install finished from the app page in the
   * administrator's browser): the same checks, then the same way into the bridge.
   */
  async installClaimed(claim: InstallClaim): Promise<{ portalOrigin: string | null }> {
    const verified = await this.verify(claim);
    await this.apply(verified);
    return { portalOrigin: originOf(verified.clientEndpoint) };
  }

  /**
   * The checks of any install path (`verifyInstall`), kept cheap for strangers: a refresh token
   * seen before is not sent to the OAuth server again, and only a few checks run at once.
   */
  private async verify(claim: InstallClaim): Promise<VerifiedInstall> {
    if (this.triedTokens.check(digest(claim.refreshToken), this.now()))
      throw new ServerError('INSTALL_NOT_VERIFIED', 403, 'these install tokens were already used');
    if (this.verifying >= MAX_VERIFYING)
      throw new ServerError('INSTALL_BUSY', 429, 'other installs are being checked; try again', {
        retryAfterSec: 1,
      });
    this.verifying++;
    try {
      return await verifyInstall(
        {
          app: this.d.app,
          now: this.now,
          holderOf: (domain) =>
            [...this.d.portals.values()].find((r) => r.record.domain?.toLowerCase() === domain)?.memberId,
        },
        claim,
      );
    } finally {
      this.verifying--;
    }
  }

  /** Stores a verified install, then binds its events and registers its lines. */
  private apply(v: VerifiedInstall): Promise<void> {
    const previous = this.applying.get(v.memberId) ?? Promise.resolve();
    const run = previous.then(() => this.applyNow(v));
    const settled = run.catch(() => undefined);
    this.applying.set(v.memberId, settled);
    void settled.then(() => {
      if (this.applying.get(v.memberId) === settled) this.applying.delete(v.memberId);
    });
    return run;
  }

  private async applyNow(v: VerifiedInstall): Promise<void> {
    const { store, client, portals } = this.d;
    // Checked again now that this portal's installs are in line: another may have landed meanwhile.
    const holder = [...portals.values()].find((r) => r.record.domain?.toLowerCase() === v.domain);
    if (holder !== undefined && holder.memberId !== v.memberId)
      throw new ServerError('DOMAIN_TAKEN', 409, `another installed portal holds the domain ${v.domain}`);
    const conflict = this.d.conflictOf?.(v.memberId, v.domain) ?? null;
    if (conflict !== null) throw new ServerError('PORTAL_AMBIGUOUS', 409, conflict);
    const existing = portals.get(v.memberId);
    const record: PortalRecord = {
      memberId: v.memberId,
      domain: v.domain,
      clientEndpoint: v.clientEndpoint,
      authKind: 'oauth',
      webhookUrl: null,
      applicationToken: v.applicationToken ?? existing?.record.applicationToken ?? null,
    };
    // Every check is done: the install is kept, then set up on the portal through the main client
    // (its mirror of the portal's rate budget must count these requests too).
    await store.savePortal(record, this.now());
    let runtime = existing;
    if (runtime) {
      await client.setTokens(record.memberId, v.tokens);
      runtime.record = record;
    } else {
      runtime = await this.d.connect(record, v.tokens);
      portals.set(record.memberId, runtime);
    }
    const { skipped } = await bindEvents(runtime.api, `${this.d.publicUrl()}/bitrix/events`, {
      offline: this.d.offlineEvents === true,
    });
    if (skipped.length > 0)
      this.d.warn(
        `portal ${record.memberId}: the application lacks the right crm, so the CRM's change events are ` +
          'not bound: the CRM phone index learns from call lookups and its reconcile only',
      );
    await registerLines(runtime.api, runtime.rules);
    if (record.applicationToken === null)
      this.d.warn(
        `portal ${record.memberId}: installed without an application token; its events are refused ` +
          'until ONAPPINSTALL brings one',
      );
  }

  /** `POST /bitrix/events`. */
  async event(e: BitrixEvent): Promise<BitrixEventOutcome> {
    if (e.event === 'ONAPPINSTALL') {
      this.fresh(e);
      return this.onInstallEvent(e);
    }
    const runtime = this.authentic(e);
    this.fresh(e);
    return this.handle(runtime, e);
  }

  /**
   * An event read from the portal's offline queue with its own token: it is the portal's for
   * certain (no application token to check), and an old one is a queued one, not a replay.
   */
  async offlineEvent(memberId: string, e: BitrixEvent): Promise<BitrixEventOutcome> {
    const runtime = this.d.portals.get(memberId);
    if (!runtime) throw new ServerError('PORTAL_UNKNOWN', 404, `portal ${memberId} is not installed`);
    if (e.event === 'ONAPPINSTALL') return { result: 'ignored' };
    return this.handle(runtime, e);
  }

  /**
   * Outbound-only: the portal refused our token while its queue was read. An uninstall sends
   * nothing we could read (its queue goes with the app), so this is how it is learnt: when the
   * portal confirms the app is gone, the portal is forgotten as at ONAPPUNINSTALL. True if it was.
   */
  async offlineAccessLost(memberId: string, error: unknown): Promise<boolean> {
    const runtime = this.d.portals.get(memberId);
    if (!runtime || !(error instanceof BitrixError) || !accessGone.has(error.code)) return false;
    try {
      await this.confirmUninstall(runtime);
    } catch {
      return false;
    }
    await this.uninstall(runtime);
    return true;
  }

  private async handle(runtime: PortalRuntime, e: BitrixEvent): Promise<BitrixEventOutcome> {
    switch (e.event) {
      case 'ONAPPUNINSTALL':
        await this.confirmUninstall(runtime);
        await this.uninstall(runtime);
        return { result: 'done' };
      case 'ONEXTERNALCALLSTART':
        return this.clickToCall(runtime, e);
      case 'ONEXTERNALCALLBACKSTART':
        return this.callback(runtime, e);
      case 'ONAPPTEST': {
        const test = this.eventTests.get(runtime.memberId);
        if (test && test.receivedAt === null) test.receivedAt = this.now();
        return { result: 'done' };
      }
      default:
        if (Object.hasOwn(crmChangeEvents, e.event))
          return this.crmChanged(runtime, e, crmChangeEvents[e.event as keyof typeof crmChangeEvents]);
        return { result: 'ignored' };
    }
  }

  /**
   * Bitrix24 stamps every event with `ts` when it sends it: an old one is a delivery kept and sent
   * again later, and is refused. A later `ts` is taken (the portal's clock may run ahead).
   */
  private fresh(e: BitrixEvent): void {
    if (e.ts === null) throw new ServerError('EVENT_NOT_FRESH', 400, 'the event carries no ts');
    const ageMs = this.now() - e.ts * 1000;
    if (ageMs > this.eventMaxAgeMs)
      throw new ServerError(
        'EVENT_NOT_FRESH',
        400,
        `the event is ${String(Math.round(ageMs / 1000))} s old, over the ${String(this.eventMaxAgeMs / 1000)} s accepted`,
      );
  }

  /**
   * A CRM record was added, changed or deleted (`data[FIELDS][ID]`): the CRM phone index asks the
   * portal again about its numbers. Answered at once; the portal does not wait for the asking.
   */
  private crmChanged(
    runtime: PortalRuntime,
    e: BitrixEvent,
    [type, deleted]: readonly ['CONTACT' | 'COMPANY' | 'LEAD', boolean],
  ): BitrixEventOutcome {
    const id = checked(crmChangeData, e.data, invalid(`${e.event} needs data[FIELDS][ID]`));
    runtime.callers.changed(type, id, deleted).catch((error: unknown) => {
      this.d.warn(
        `portal ${runtime.memberId}: ${e.event} ${String(id)} not taken into the CRM phone index ` +
          `(${(error as { code?: string }).code ?? 'ERROR'}); its numbers are asked about again at their next call or reconcile`,
      );
    });
    return { result: 'done' };
  }

  /** The installed portal the event is from, or 401: nothing else happens for a forged event. */
  private authentic(e: BitrixEvent): PortalRuntime {
    const runtime = this.d.portals.get(e.auth.memberId);
    if (!runtime || !sameSecret(e.auth.applicationToken, runtime.record.applicationToken))
      throw new ServerError(
        'EVENT_NOT_AUTHENTIC',
        401,
        'the event does not carry the application token of an installed portal',
      );
    return runtime;
  }

  /**
   * ONAPPINSTALL is an install like the callback: its tokens must be an administrator's. Only the
   * token already stored is taken as it is (the callback came first and stored this very one).
   */
  private async onInstallEvent(e: BitrixEvent): Promise<BitrixEventOutcome> {
    const runtime = this.d.portals.get(e.auth.memberId);
    if (sameSecret(e.auth.applicationToken, runtime?.record.applicationToken)) return { result: 'duplicate' };
    const { refreshToken } = e.auth;
    if (refreshToken === undefined || e.auth.applicationToken === '')
      throw new ServerError('EVENT_NOT_AUTHENTIC', 401, 'ONAPPINSTALL without the installation’s tokens');
    await this.installClaimed({
      memberId: e.auth.memberId,
      refreshToken,
      applicationToken: e.auth.applicationToken,
    });
    return { result: 'done' };
  }

  /**
   * An uninstall takes the app's access to the API away before ONAPPUNINSTALL is sent. The token
   * in the event is the same as in every other event, so an employee's page (which receives it)
   * could send one: the portal is asked, and it must refuse the app's tokens now.
   */
  private async confirmUninstall(runtime: PortalRuntime): Promise<void> {
    try {
      await runtime.api.app.info();
    } catch (e) {
      if (e instanceof BitrixError && accessGone.has(e.code)) return;
      throw new ServerError(
        'UNINSTALL_NOT_CONFIRMED',
        503,
        'the portal could not be asked whether the app was uninstalled; the portal is kept',
        { cause: e },
      );
    }
    this.d.warn(
      `portal ${runtime.memberId}: an ONAPPUNINSTALL came while the app is still installed; ignored`,
    );
    throw new ServerError(
      'UNINSTALL_NOT_CONFIRMED',
      409,
      'the portal still answers for the application: it was not uninstalled',
    );
  }

  private async uninstall(runtime: PortalRuntime): Promise<void> {
    runtime.close();
    this.d.client.removePortal(runtime.memberId);
    this.d.portals.delete(runtime.memberId);
    await this.d.store.deletePortal(runtime.memberId, this.now());
    await this.d.forget?.(runtime.memberId);
    this.d.warn(`portal ${runtime.memberId}: the app was uninstalled; its calls are no longer logged`);
  }

  /** S4: the portal registered the call and shows its card; the PBX rings the user, then dials. */
  private async clickToCall(runtime: PortalRuntime, e: BitrixEvent): Promise<BitrixEventOutcome> {
    const input: ClickToCallRequested = {
      type: 'click_to_call.requested',
      ...checked(
        clickToCallData,
        e.data,
        invalid('ONEXTERNALCALLSTART needs CALL_ID, USER_ID and PHONE_NUMBER'),
      ),
    };
    const { bitrixCallId } = input;
    // Keyed by the portal's CALL_ID: a repeat, with any ts, dials nothing more.
    const r = await runtime.outbox.accept(input, { dedupeKey: `bitrix:ONEXTERNALCALLSTART:${bitrixCallId}` });
    return { result: r.duplicate ? 'duplicate' : 'done' };
  }

  private async callback(runtime: PortalRuntime, e: BitrixEvent): Promise<BitrixEventOutcome> {
    const input: CallbackRequested = {
      type: 'callback.requested',
      ...checked(callbackData, e.data, invalid('ONEXTERNALCALLBACKSTART needs PHONE_NUMBER')),
    };
    // No CALL_ID here. The same request again with another ts (nobody signs ts) is a replay within
    // the freshness window, and older ones are refused as stale: one callback either way.
    if (this.replays.check(`${runtime.memberId}/${e.replayKey}`, this.now())) return { result: 'duplicate' };
    try {
      // The event's digest (its data and ts) tells a repeated delivery after a restart, too.
      const r = await runtime.outbox.accept(input, {
        dedupeKey: `bitrix:ONEXTERNALCALLBACKSTART:${e.digest}`,
      });
      return { result: r.duplicate ? 'duplicate' : 'done' };
    } catch (err) {
      // Not stored: the portal's repeat must be taken.
      this.replays.forget(`${runtime.memberId}/${e.replayKey}`);
      throw err;
    }
  }

  // ---- the app page ----

  /** A session names its portal and whether its user is an administrator, signed, for an hour. */
  private sign(session: Session, until: number): string {
    const body = Buffer.from(JSON.stringify([session.memberId, until, session.admin ? 1 : 0])).toString(
      'base64url',
    );
    const mac = createHmac('sha256', this.sessionKey).update(body).digest('base64url');
    return `${body}.${mac}`;
  }

  private sessionOf(session: string): { runtime: PortalRuntime; admin: boolean } {
    const [body = '', mac = ''] = session.split('.');
    const expected = createHmac('sha256', this.sessionKey).update(body).digest('base64url');
    let fields: unknown[] = [];
    if (sameSecret(mac, expected)) {
      try {
        const parsed = JSON.parse(Buffer.from(body, 'base64url').toString()) as unknown;
        if (Array.isArray(parsed)) fields = parsed;
      } catch {
        fields = [];
      }
    }
    const [memberId, until, admin] = fields;
    const runtime = typeof memberId === 'string' ? this.d.portals.get(memberId) : undefined;
    if (!runtime || typeof until !== 'number' || until < this.now())
      throw new ServerError(
        'APP_SESSION_REQUIRED',
        401,
        'the session has expired: open the app from Bitrix24 again',
      );
    return { runtime, admin: admin === 1 };
  }

  async open(request: { memberId: string; authId: string }): Promise<{ session: string }> {
    const runtime = this.d.portals.get(request.memberId);
    if (!runtime?.record.clientEndpoint)
      throw new ServerError('APP_SESSION_REQUIRED', 401, 'this portal has not installed the bridge');
    const { admin } = await verifyUserToken(
      this.d.app,
      runtime.memberId,
      runtime.record.clientEndpoint,
      request.authId,
    );
    return { session: this.sign({ memberId: runtime.memberId, admin }, this.now() + SESSION_MS) };
  }

  async view(session: string): Promise<AppPageView> {
    const { runtime, admin } = this.sessionOf(session);
    const { memberId } = runtime;
    const backlog = await this.d.store.backlog(memberId);
    const tokens = await this.d.store.tokens.get(memberId);
    const state = this.d.client.has(memberId) ? this.d.client.state(memberId) : undefined;
    const reinstall = state?.needsReinstall ?? tokens?.needsReinstall;
    return {
      portal: { memberId, domain: runtime.record.domain },
      portalOrigin: originOf(runtime.record.clientEndpoint),
      viewer: { admin },
      link: runtime.outbox.link,
      backlog: {
        pending: backlog.pending,
        inFlight: backlog.inFlight,
        failed: backlog.failed,
        oldestOpenAt: backlog.oldestOpenAt,
      },
      tokens: {
        expiresAt: tokens?.expiresAt ?? null,
        needsReinstall: reinstall?.reason ?? null,
        eventsVerified: runtime.record.applicationToken !== null,
      },
      directory: {
        refreshedAt: runtime.directory.refreshedAt,
        error: runtime.directory.error,
        users: runtime.directory.users.map((u) => ({
          userId: u.id,
          name: [u.name, u.lastName].filter((x) => x !== '').join(' '),
          extension: u.extension,
        })),
      },
      publicUrl: this.d.publicUrl(),
      eventTest: this.eventTests.get(memberId) ?? null,
      pbx: this.d.pbxOf(memberId),
    };
  }

  /** The page's test actions ring phones and write to the CRM: administrators only. */
  async action(session: string, name: string): Promise<{ message: string }> {
    const { runtime, admin } = this.sessionOf(session);
    if (!admin)
      throw new ServerError(
        'APP_ADMIN_REQUIRED',
        403,
        'only an administrator of the portal runs test actions',
      );
    switch (name) {
      case 'incoming-call':
        return this.testIncoming(runtime);
      case 'transfer':
        return this.testTransfer(runtime);
      case 'drop':
        return this.testDrop(runtime);
      case 'refresh-directory': {
        const d = await runtime.refreshDirectory();
        return {
          message:
            d.error === null
              ? `the extension map has ${String(d.users.filter((u) => u.extension !== null).length)} extensions`
              : `the refresh failed (${d.error}); the last good map is kept`,
        };
      }
      case 'event-test':
        return this.eventTest(runtime);
      default:
        throw new ServerError('UNKNOWN_ACTION', 404, `no action ${name}`);
    }
  }

  private extensionOfUser(runtime: PortalRuntime, userId: number): string {
    const ext = runtime.directory.users.find((u) => u.id === userId)?.extension ?? null;
    if (ext === null)
      throw new ServerError('NO_EXTENSION', 409, `user ${String(userId)} has no extension (UF_PHONE_INNER)`);
    return ext;
  }

  /** Test calls go through the real engine and outbox, as if a PBX had reported them. */
  private async feed(runtime: PortalRuntime, events: PbxEvent[]): Promise<void> {
    await runtime.outbox.acceptMany(events.map((input) => ({ input })));
  }

  private async testIncoming(runtime: PortalRuntime): Promise<{ message: string }> {
    const extension = this.extensionOfUser(runtime, 1);
    const callId = `app-test-${String(this.now())}-${String(++this.testSeq)}`;
    const at = this.now();
    await this.feed(runtime, [
      { type: 'call.started', callId, direction: 'inbound', from: TEST_CALLER, to: extension, at },
      { type: 'call.ringing', callId, extensions: [extension], at },
    ]);
    this.testCalls.set(runtime.memberId, { callId, extension });
    return { message: `a test call from ${TEST_CALLER} rings extension ${extension} (user 1)` };
  }

  private async testTransfer(runtime: PortalRuntime): Promise<{ message: string }> {
    const call = this.testCalls.get(runtime.memberId);
    if (!call) return { message: 'no test call: start one with "Incoming call for user 1"' };
    const extension = this.extensionOfUser(runtime, 2);
    await this.feed(runtime, [
      { type: 'call.transferred', callId: call.callId, to: extension, at: this.now() },
    ]);
    this.testCalls.set(runtime.memberId, { callId: call.callId, extension });
    return { message: `the test call moved to extension ${extension} (user 2)` };
  }

  private async testDrop(runtime: PortalRuntime): Promise<{ message: string }> {
    const call = this.testCalls.get(runtime.memberId);
    if (!call) return { message: 'no test call to drop' };
    await this.feed(runtime, [
      { type: 'call.ended', callId: call.callId, reason: 'no_answer', at: this.now() },
    ]);
    this.testCalls.delete(runtime.memberId);
    return { message: 'the test call was dropped; it is logged as a missed call' };
  }

  private async eventTest(runtime: PortalRuntime): Promise<{ message: string }> {
    const test = { sentAt: this.now(), receivedAt: null as number | null };
    this.eventTests.set(runtime.memberId, test);
    await runtime.api.event.test();
    const deadline = Date.now() + EVENT_TEST_WAIT_MS;
    while (test.receivedAt === null && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 50));
    return test.receivedAt === null
      ? {
          message: `no test event arrived within ${String(EVENT_TEST_WAIT_MS / 1000)} s: the portal cannot reach ${this.d.publicUrl()}/bitrix/events`,
        }
      : { message: `the test event arrived after ${String(test.receivedAt - test.sentAt)} ms` };
  }
}
