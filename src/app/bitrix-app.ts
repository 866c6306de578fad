/**
 * The bridge as a Bitrix24 application: installs (callback or ONAPPINSTALL), the portal's events
 * (click-to-call, callbacks, uninstall, event tests) and the app page in the portal's frame.
 *
 * Nothing is done for an event before it is known to be genuine: its `member_id` names an
 * installed portal and its `application_token` is the one that portal's installation gave. The
 * only exception is ONAPPINSTALL of a portal not installed yet, whose tokens are checked with the
 * OAuth server and the portal instead (`verifyInstall`).
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { AppCredentials, BitrixClient } from '../bitrix/index.ts';
import type { CallbackRequested, ClickToCallRequested, PbxEvent } from '../core/index.ts';
import {
  ServerError,
  type AppPageHandler,
  type AppPageView,
  type BitrixEvent,
  type BitrixEventOutcome,
  type FormObject,
  type InstallCallback,
} from '../server/index.ts';
import type { PortalRecord, Store } from '../store/index.ts';
import { bindEvents, crmChangeEvents, registerLines, verifyInstall, verifyUserToken } from './install.ts';
import type { PortalRuntime } from '../bridge/portal.ts';
import type { PortalTokens } from '../bitrix/index.ts';

export interface BitrixAppDeps {
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
  warn(message: string): void;
  /** What else of the portal's goes at an uninstall (files kept beside the store). */
  forget?: ((memberId: string) => Promise<void>) | undefined;
  now?: () => number;
}

/** Compares two secrets in constant time (their digests, so lengths do not leak either). */
function sameSecret(a: string, b: string): boolean {
  const da = createHash('sha256').update(a).digest();
  const db = createHash('sha256').update(b).digest();
  return timingSafeEqual(da, db) && a.length > 0;
}

const str = (v: FormObject[string] | undefined): string => (typeof v === 'string' ? v.trim() : '');

const positiveInt = (v: FormObject[string] | undefined): number | null => {
  const n = Number(str(v));
  return Number.isSafeInteger(n) && n > 0 ? n : null;
};

/** The page's session lives an hour: long enough to look around, short if a URL leaks. */
const SESSION_MS = 3_600_000;
/** How long "Event test" waits for ONAPPTEST before saying the portal cannot reach the bridge. */
const EVENT_TEST_WAIT_MS = 5_000;
/** The caller of the page's test calls: a number no customer has. */
const TEST_CALLER = '+70000000000';

export class BitrixApp implements AppPageHandler {
  private readonly sessionKey = randomBytes(32);
  private readonly eventTests = new Map<string, { sentAt: number; receivedAt: number | null }>();
  private readonly testCalls = new Map<string, { callId: string; extension: string }>();
  private testSeq = 0;
  private installs: Promise<unknown> = Promise.resolve();
  private readonly now: () => number;

  constructor(private readonly d: BitrixAppDeps) {
    this.now = d.now ?? Date.now;
  }

  /** Installs serialize: two callbacks of one portal must not connect it twice. */
  install(callback: InstallCallback): Promise<void> {
    const run = this.installs.then(() => this.installNow(callback));
    this.installs = run.catch(() => undefined);
    return run;
  }

  private async installNow(callback: InstallCallback): Promise<void> {
    const { store, client, portals } = this.d;
    const tokens = await verifyInstall(this.d.app, callback, this.now());
    const existing = portals.get(callback.memberId);
    const record: PortalRecord = {
      memberId: callback.memberId,
      domain: callback.domain,
      clientEndpoint: tokens.clientEndpoint ?? callback.clientEndpoint,
      authKind: 'oauth',
      webhookUrl: null,
      applicationToken: callback.applicationToken ?? existing?.record.applicationToken ?? null,
    };
    await store.savePortal(record, this.now());
    let runtime = existing;
    if (runtime) {
      await client.setTokens(record.memberId, tokens);
      runtime.record = record;
    } else {
      runtime = await this.d.connect(record, tokens);
      portals.set(record.memberId, runtime);
    }
    await bindEvents(runtime.api, `${this.d.publicUrl()}/bitrix/events`);
    await registerLines(runtime.api, runtime.rules);
    if (record.applicationToken === null)
      this.d.warn(
        `portal ${record.memberId}: installed without an application token; its events are refused ` +
          'until ONAPPINSTALL brings one',
      );
  }

  /** `POST /bitrix/events`. */
  async event(e: BitrixEvent): Promise<BitrixEventOutcome> {
    if (e.event === 'ONAPPINSTALL') return this.onInstallEvent(e);
    const runtime = this.authentic(e);
    switch (e.event) {
      case 'ONAPPUNINSTALL':
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
   * A CRM record was added, changed or deleted (`data[FIELDS][ID]`): the CRM phone index asks the
   * portal again about its numbers. Answered at once; the portal does not wait for the asking.
   */
  private crmChanged(
    runtime: PortalRuntime,
    e: BitrixEvent,
    [type, deleted]: readonly ['CONTACT' | 'COMPANY' | 'LEAD', boolean],
  ): BitrixEventOutcome {
    const fields = e.data.FIELDS;
    const id = typeof fields === 'object' ? positiveInt(fields.ID) : null;
    if (id === null) throw new ServerError('INVALID_EVENT', 400, `${e.event} needs data[FIELDS][ID]`);
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
    const expected = runtime?.record.applicationToken ?? null;
    if (!runtime || expected === null || !sameSecret(expected, e.auth.applicationToken))
      throw new ServerError(
        'EVENT_NOT_AUTHENTIC',
        401,
        'the event does not carry the application token of an installed portal',
      );
    return runtime;
  }

  private async onInstallEvent(e: BitrixEvent): Promise<BitrixEventOutcome> {
    const runtime = this.d.portals.get(e.auth.memberId);
    const stored = runtime?.record.applicationToken ?? null;
    // The install callback came first and stored this very token: nothing new.
    if (stored !== null && sameSecret(stored, e.auth.applicationToken)) return { result: 'duplicate' };
    const { accessToken, refreshToken } = e.auth;
    if (accessToken === undefined || refreshToken === undefined || e.auth.applicationToken === '')
      throw new ServerError('EVENT_NOT_AUTHENTIC', 401, 'ONAPPINSTALL without the installation’s tokens');
    const domain = e.auth.domain ?? '';
    await this.install({
      memberId: e.auth.memberId,
      domain,
      clientEndpoint: e.auth.clientEndpoint ?? `https://${domain}/rest/`,
      serverEndpoint: e.auth.serverEndpoint,
      accessToken,
      refreshToken,
      expiresInSec: e.auth.expiresInSec ?? 3600,
      applicationToken: e.auth.applicationToken,
    });
    return { result: 'done' };
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
    const d = e.data;
    const bitrixCallId = str(d.CALL_ID);
    const userId = positiveInt(d.USER_ID);
    const phoneNumber = str(d.PHONE_NUMBER);
    if (bitrixCallId === '' || userId === null || phoneNumber === '')
      throw new ServerError(
        'INVALID_EVENT',
        400,
        'ONEXTERNALCALLSTART needs CALL_ID, USER_ID and PHONE_NUMBER',
      );
    const entityId = positiveInt(d.CRM_ENTITY_ID);
    const input: ClickToCallRequested = {
      type: 'click_to_call.requested',
      bitrixCallId,
      userId,
      phoneNumber,
      callListId: positiveInt(d.CALL_LIST_ID),
      lineNumber: str(d.LINE_NUMBER) || null,
      ...(str(d.CRM_ENTITY_TYPE) !== '' && entityId !== null
        ? { crmEntityType: str(d.CRM_ENTITY_TYPE), crmEntityId: entityId }
        : {}),
    };
    const r = await runtime.outbox.accept(input, { dedupeKey: `bitrix:ONEXTERNALCALLSTART:${bitrixCallId}` });
    return { result: r.duplicate ? 'duplicate' : 'done' };
  }

  private async callback(runtime: PortalRuntime, e: BitrixEvent): Promise<BitrixEventOutcome> {
    const d = e.data;
    const phoneNumber = str(d.PHONE_NUMBER);
    if (phoneNumber === '')
      throw new ServerError('INVALID_EVENT', 400, 'ONEXTERNALCALLBACKSTART needs PHONE_NUMBER');
    const entityId = positiveInt(d.CRM_ENTITY_ID);
    const input: CallbackRequested = {
      type: 'callback.requested',
      phoneNumber,
      lineNumber: str(d.LINE_NUMBER) || null,
      ...(str(d.CRM_ENTITY_TYPE) !== '' && entityId !== null
        ? { crmEntityType: str(d.CRM_ENTITY_TYPE), crmEntityId: entityId }
        : {}),
    };
    // No CALL_ID here: the event's digest (its data and time) tells a repeated delivery.
    const r = await runtime.outbox.accept(input, { dedupeKey: `bitrix:ONEXTERNALCALLBACKSTART:${e.digest}` });
    return { result: r.duplicate ? 'duplicate' : 'done' };
  }

  // ---- the app page ----

  private sign(memberId: string, until: number): string {
    const body = Buffer.from(JSON.stringify([memberId, until])).toString('base64url');
    const mac = createHmac('sha256', this.sessionKey).update(body).digest('base64url');
    return `${body}.${mac}`;
  }

  private portalOfSession(session: string): PortalRuntime {
    const [body = '', mac = ''] = session.split('.');
    const expected = createHmac('sha256', this.sessionKey).update(body).digest('base64url');
    let memberId: unknown;
    let until: unknown;
    if (sameSecret(expected, mac)) {
      try {
        [memberId, until] = JSON.parse(Buffer.from(body, 'base64url').toString()) as unknown[];
      } catch {
        memberId = undefined;
      }
    }
    const runtime = typeof memberId === 'string' ? this.d.portals.get(memberId) : undefined;
    if (!runtime || typeof until !== 'number' || until < this.now())
      throw new ServerError(
        'APP_SESSION_REQUIRED',
        401,
        'the session has expired: open the app from Bitrix24 again',
      );
    return runtime;
  }

  async open(request: { memberId: string; authId: string }): Promise<{ session: string }> {
    const runtime = this.d.portals.get(request.memberId);
    if (!runtime?.record.clientEndpoint)
      throw new ServerError('APP_SESSION_REQUIRED', 401, 'this portal has not installed the bridge');
    await verifyUserToken(this.d.app, runtime.memberId, runtime.record.clientEndpoint, request.authId);
    return { session: this.sign(runtime.memberId, this.now() + SESSION_MS) };
  }

  async view(session: string): Promise<AppPageView> {
    const runtime = this.portalOfSession(session);
    const { memberId } = runtime;
    const backlog = await this.d.store.backlog(memberId);
    const tokens = await this.d.store.tokens.get(memberId);
    const state = this.d.client.has(memberId) ? this.d.client.state(memberId) : undefined;
    const reinstall = state?.needsReinstall ?? tokens?.needsReinstall;
    return {
      portal: { memberId, domain: runtime.record.domain },
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

  async action(session: string, name: string): Promise<{ message: string }> {
    const runtime = this.portalOfSession(session);
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
