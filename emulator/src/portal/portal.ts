import { EventEmitter } from 'node:events';
import { createHash, randomBytes } from 'node:crypto';
import { Clock } from '../clock.ts';
import { defaultSettings, noFaults, type Faults, type Settings } from '../settings.ts';
import type {
  AccessToken,
  Activity,
  App,
  Binding,
  Call,
  Card,
  CardLogEntry,
  CrmEntity,
  CrmEntityType,
  Deal,
  DeliveryLogEntry,
  Line,
  RefreshToken,
  RequestLogEntry,
  StoredFile,
  UploadSlot,
  User,
  Webhook,
} from './model.ts';
import { phoneKey, samePhone } from './phone.ts';
import { defaultSeed, type Seed, type SeedEntity } from './seed.ts';

/** What the portal announces, so tests can wait on typed events instead of sleeping. */
export interface PortalEvents {
  card: [CardLogEntry];
  call: [{ kind: 'registered' | 'finished' | 'recording'; call: Call }];
  request: [RequestLogEntry];
  delivery: [DeliveryLogEntry];
  /** Back to the seed: state kept beside the portal (offline queues) starts afresh. */
  reset: [];
}

const initialSequences = () => ({
  crm: 100,
  phone: 100,
  deal: 100,
  activity: 1000,
  statistic: 1,
  file: 5000,
  app: 1,
  line: 1,
  binding: 1,
});
type Sequences = ReturnType<typeof initialSequences>;

/** Keeps logs bounded for long benchmark runs; the oldest entries go first. */
const LOG_LIMIT = 200_000;

export class Portal extends EventEmitter<PortalEvents> {
  readonly clock: Clock;
  settings: Settings = defaultSettings();
  faults: Faults = noFaults();
  /** Base URL the portal is reachable at, e.g. http://127.0.0.1:39100 (set once listening). */
  baseUrl = 'http://127.0.0.1';

  users = new Map<number, User>();
  crm = {
    CONTACT: new Map<number, CrmEntity>(),
    COMPANY: new Map<number, CrmEntity>(),
    LEAD: new Map<number, CrmEntity>(),
  };
  deals = new Map<number, Deal>();
  activities = new Map<number, Activity>();
  /** Every call ever registered, in order. */
  calls = new Map<string, Call>();
  /** Registered and not finished: what show/hide/finish can find. */
  liveCalls = new Map<string, Call>();
  /** Live calls by the identity re-registration compares (app, user, type, number). */
  private liveByIdentity = new Map<string, Set<Call>>();
  cards = new Map<string, Card>();
  cardLog: CardLogEntry[] = [];
  apps = new Map<number, App>();
  accessTokens = new Map<string, AccessToken>();
  refreshTokens = new Map<string, RefreshToken>();
  bindings: Binding[] = [];
  webhooks: Webhook[] = [];
  lines: Line[] = [];
  files = new Map<number, StoredFile>();
  uploads = new Map<string, UploadSlot>();
  requestLog: RequestLogEntry[] = [];
  deliveryLog: DeliveryLogEntry[] = [];
  private seq: Sequences = initialSequences();
  /** CRM records by phone key (see phoneKey): candidates that samePhone then confirms. */
  private phoneIndex = new Map<string, CrmEntity[]>();
  private seed: Seed;
  private baseSettings: Partial<Settings>;

  constructor(seed: Seed = defaultSeed(), settings: Partial<Settings> = {}, clock = new Clock()) {
    super();
    this.clock = clock;
    this.seed = seed;
    this.baseSettings = settings;
    this.reset();
  }

  /** Back to the seed: every call, app, token, binding, file and log is dropped. */
  reset(): void {
    const seed = this.seed;
    this.settings = { ...defaultSettings(), ...(seed.settings ?? {}), ...this.baseSettings };
    if (seed.memberId) this.settings.memberId = seed.memberId;
    if (this.baseSettings.memberId) this.settings.memberId = this.baseSettings.memberId;
    this.faults = noFaults();
    this.clock.reset();
    this.users.clear();
    for (const u of seed.users) {
      this.users.set(u.id, {
        id: u.id,
        name: u.name,
        lastName: u.lastName ?? '',
        email: u.email ?? '',
        active: u.active ?? true,
        admin: u.admin ?? false,
        extension: u.extension ?? null,
        isOnline: u.isOnline ?? true,
        workPhone: u.workPhone ?? '',
        personalPhone: '',
        personalMobile: u.personalMobile ?? '',
        departments: u.departments ?? [1],
        timemanStatus: u.timemanStatus ?? 'OPENED',
      });
    }
    for (const map of Object.values(this.crm)) map.clear();
    this.phoneIndex.clear();
    this.seq = initialSequences();
    const now = this.clock.now();
    const addSeed = (type: CrmEntityType, e: SeedEntity): void => {
      this.addEntity({
        type,
        id: e.id,
        name: e.name ?? '',
        lastName: e.lastName ?? '',
        title: e.title ?? '',
        phones: e.phones.map((value) => ({ id: this.seq.phone++, value, valueType: 'WORK' })),
        assignedById: e.assignedById,
        companyId: e.companyId ?? null,
        sourceId: type === 'LEAD' ? 'CALL' : null,
        statusId: type === 'LEAD' ? 'NEW' : null,
        createdAt: now,
        modifiedAt: now,
        createdByCallId: null,
      });
      this.seq.crm = Math.max(this.seq.crm, e.id + 1);
    };
    for (const c of seed.contacts ?? []) addSeed('CONTACT', c);
    for (const c of seed.companies ?? []) addSeed('COMPANY', c);
    for (const c of seed.leads ?? []) addSeed('LEAD', c);
    this.deals.clear();
    for (const d of seed.deals ?? []) {
      this.deals.set(d.id, {
        id: d.id,
        title: d.title,
        contactId: d.contactId ?? null,
        companyId: d.companyId ?? null,
        assignedById: d.assignedById,
        stageId: d.stageId ?? 'NEW',
        closed: d.closed ?? false,
        createdAt: now,
      });
      this.seq.deal = Math.max(this.seq.deal, d.id + 1);
    }
    this.webhooks = (seed.webhooks ?? []).map((w) => ({
      userId: w.userId,
      secret: w.secret,
      scopes: w.scopes ?? null,
    }));
    this.activities.clear();
    this.calls.clear();
    this.liveCalls.clear();
    this.liveByIdentity.clear();
    this.cards.clear();
    this.cardLog = [];
    this.apps.clear();
    this.accessTokens.clear();
    this.refreshTokens.clear();
    this.bindings = [];
    this.lines = [];
    this.files.clear();
    this.uploads.clear();
    this.requestLog = [];
    this.deliveryLog = [];
    this.emit('reset');
  }

  get domain(): string {
    return this.settings.domain ?? new URL(this.baseUrl).host;
  }

  /** `<portal>/rest/`: at its own domain when one is set (a domain routed to this portal). */
  get clientEndpoint(): string {
    const base =
      this.settings.domain === null
        ? this.baseUrl
        : `${new URL(this.baseUrl).protocol}//${this.settings.domain}`;
    return `${base}/rest/`;
  }

  /** The OAuth server's REST endpoint; the emulator serves /oauth/token/ itself. */
  get serverEndpoint(): string {
    return `${this.baseUrl}/rest/`;
  }

  nextId(kind: keyof Sequences): number {
    return this.seq[kind]++;
  }

  // --- users ---

  activeUserByExtension(extension: string): User | undefined {
    const wanted = extension.trim();
    if (wanted === '') return undefined;
    for (const u of this.users.values()) if (u.active && u.extension === wanted) return u;
    return undefined;
  }

  activeUser(id: number): User | undefined {
    const u = this.users.get(id);
    return u?.active ? u : undefined;
  }

  /** A number that is some active user's extension is an internal call: no CRM for it. */
  isInternalNumber(phone: string): boolean {
    const d = phone.replace(/\D/g, '');
    if (d === '') return false;
    for (const u of this.users.values())
      if (u.active && u.extension !== null && u.extension === d) return true;
    return false;
  }

  // --- CRM ---

  /** Entities whose phones match, each type in id order. */
  findByPhone(phone: string, type: CrmEntityType): CrmEntity[] {
    const candidates = this.phoneIndex.get(phoneKey(phone)) ?? [];
    return candidates
      .filter((e) => e.type === type && e.phones.some((p) => samePhone(p.value, phone)))
      .sort((a, b) => a.id - b.id);
  }

  /** Adds a CRM record and indexes its phones: a replay of thousands of calls must not scan the CRM. */
  addEntity(e: CrmEntity): void {
    this.crm[e.type].set(e.id, e);
    for (const p of e.phones) {
      const key = phoneKey(p.value);
      const list = this.phoneIndex.get(key);
      if (list) list.push(e);
      else this.phoneIndex.set(key, [e]);
    }
  }

  /** A record's phones changed: it is found by its new numbers, and no longer by the old ones. */
  reindexEntity(e: CrmEntity, oldPhones: readonly { value: string }[]): void {
    for (const p of oldPhones) {
      const key = phoneKey(p.value);
      const list = this.phoneIndex.get(key)?.filter((x) => x !== e);
      if (list === undefined || list.length === 0) this.phoneIndex.delete(key);
      else this.phoneIndex.set(key, list);
    }
    if (!this.crm[e.type].has(e.id)) return;
    for (const p of e.phones) {
      const key = phoneKey(p.value);
      const list = this.phoneIndex.get(key) ?? [];
      if (!list.includes(e)) this.phoneIndex.set(key, [...list, e]);
    }
  }

  removeEntity(e: CrmEntity): void {
    this.crm[e.type].delete(e.id);
    this.reindexEntity(e, e.phones);
  }

  /** The primary entity for a caller: a contact before a company before a lead. */
  primaryEntityFor(phone: string): CrmEntity | undefined {
    return (
      this.findByPhone(phone, 'CONTACT')[0] ??
      this.findByPhone(phone, 'COMPANY')[0] ??
      this.findByPhone(phone, 'LEAD')[0]
    );
  }

  createLead(
    phone: string,
    responsibleId: number,
    sourceId: string | null,
    callId: string,
    direction: 'in' | 'out',
  ): CrmEntity {
    const now = this.clock.now();
    const lead: CrmEntity = {
      type: 'LEAD',
      id: this.nextId('crm'),
      name: '',
      lastName: '',
      title: `${phone} - ${direction === 'in' ? 'Incoming' : 'Outgoing'} call`,
      phones: [{ id: this.nextId('phone'), value: phone, valueType: 'WORK' }],
      assignedById: responsibleId,
      companyId: null,
      sourceId: sourceId ?? 'CALL',
      statusId: 'NEW',
      createdAt: now,
      modifiedAt: now,
      createdByCallId: callId,
    };
    this.addEntity(lead);
    return lead;
  }

  openDealOf(entity: CrmEntity): Deal | undefined {
    for (const d of this.deals.values()) {
      if (d.closed) continue;
      if (entity.type === 'CONTACT' && d.contactId === entity.id) return d;
      if (entity.type === 'COMPANY' && d.companyId === entity.id) return d;
    }
    return undefined;
  }

  // --- live calls ---

  addLiveCall(call: Call): void {
    this.liveCalls.set(call.callId, call);
    const key = identity(call.appId, call.userId, call.type, call.phoneNumber);
    const set = this.liveByIdentity.get(key);
    if (set) set.add(call);
    else this.liveByIdentity.set(key, new Set([call]));
  }

  removeLiveCall(call: Call): void {
    this.liveCalls.delete(call.callId);
    const key = identity(call.appId, call.userId, call.type, call.phoneNumber);
    const set = this.liveByIdentity.get(key);
    set?.delete(call);
    if (set?.size === 0) this.liveByIdentity.delete(key);
  }

  /** Live calls of this app for this user, type and number, oldest first. */
  liveCallsLike(appId: number, userId: number, type: number, phoneNumber: string): Iterable<Call> {
    return this.liveByIdentity.get(identity(appId, userId, type, phoneNumber)) ?? [];
  }

  // --- cards ---

  showCard(userId: number, call: Call): void {
    const key = `${userId}|${call.callId}`;
    if (!this.cards.has(key)) {
      this.cards.set(key, {
        userId,
        callId: call.callId,
        phoneNumber: call.phoneNumber,
        since: this.clock.now(),
      });
    }
    call.shown = true;
    this.logCard('show', userId, call);
  }

  hideCard(userId: number, call: Call): void {
    this.cards.delete(`${userId}|${call.callId}`);
    this.logCard('hide', userId, call);
  }

  private logCard(action: 'show' | 'hide', userId: number, call: Call): void {
    const entry: CardLogEntry = {
      at: this.clock.now(),
      action,
      userId,
      callId: call.callId,
      phoneNumber: call.phoneNumber,
    };
    push(this.cardLog, entry);
    this.emit('card', entry);
  }

  // --- tokens ---

  randomToken(): string {
    return randomBytes(16).toString('hex');
  }

  issueTokens(app: App, userId: number): { access: AccessToken; refresh: RefreshToken } {
    const now = this.clock.now();
    this.pruneTokens(now);
    const access: AccessToken = {
      token: this.randomToken(),
      appId: app.id,
      userId,
      issuedAt: now,
      expiresAt: now + this.settings.accessTokenLifetimeSec * 1000,
      revoked: false,
    };
    const refresh: RefreshToken = {
      token: this.randomToken(),
      appId: app.id,
      userId,
      expiresAt: now + this.settings.refreshTokenLifetimeSec * 1000,
    };
    this.accessTokens.set(access.token, access);
    this.refreshTokens.set(refresh.token, refresh);
    return { access, refresh };
  }

  /** An access token for an event's `auth` block: no refresh token comes with it. */
  issueAccessToken(app: App, userId: number): AccessToken {
    const now = this.clock.now();
    const access: AccessToken = {
      token: this.randomToken(),
      appId: app.id,
      userId,
      issuedAt: now,
      expiresAt: now + this.settings.accessTokenLifetimeSec * 1000,
      revoked: false,
    };
    this.accessTokens.set(access.token, access);
    return access;
  }

  /** When the token stops working: its own expiry, or earlier when a fault caps token lives. */
  tokenExpiry(t: AccessToken): number {
    const cap = this.faults.expireTokens;
    if (typeof cap === 'number' && cap > 0) return Math.min(t.expiresAt, t.issuedAt + cap * 1000);
    return t.expiresAt;
  }

  /** Expires every access token issued so far (the `expireTokens: true` fault). */
  expireAllTokens(): void {
    const now = this.clock.now();
    for (const t of this.accessTokens.values()) t.expiresAt = Math.min(t.expiresAt, now - 1);
  }

  private pruneTokens(now: number): void {
    // Long runs mint many tokens (one per event, one per refresh); forget the long-dead ones.
    if (this.accessTokens.size < 50_000) return;
    for (const [k, t] of this.accessTokens)
      if (t.expiresAt < now - 24 * 3600_000) this.accessTokens.delete(k);
  }

  // --- apps ---

  appByClientId(clientId: string): App | undefined {
    for (const a of this.apps.values()) if (a.clientId === clientId) return a;
    return undefined;
  }

  linesOf(appId: number): Line[] {
    return this.lines.filter((l) => l.appId === appId);
  }

  logRequest(entry: RequestLogEntry): void {
    push(this.requestLog, entry);
    this.emit('request', entry);
  }

  logDelivery(entry: DeliveryLogEntry): void {
    push(this.deliveryLog, entry);
    this.emit('delivery', entry);
  }

  storeFile(filename: string, content: Buffer, callId: string): StoredFile {
    const file: StoredFile = {
      id: this.nextId('file'),
      filename,
      size: content.length,
      sha256: createHash('sha256').update(content).digest('hex'),
      callId,
    };
    this.files.set(file.id, file);
    return file;
  }
}

const identity = (appId: number, userId: number, type: number, phone: string): string =>
  `${appId}|${userId}|${type}|${phone}`;

function push<T>(log: T[], entry: T): void {
  log.push(entry);
  if (log.length > LOG_LIMIT) log.splice(0, log.length - LOG_LIMIT);
}
