/**
 * The one store suite: every assertion here holds for SQLite and for PostgreSQL alike
 * (`sqlite.test.ts`, `postgres.test.ts` run it, each adding what only its engine has).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import {
  aesSealer,
  type CallerRecord,
  type NewOutboxEntry,
  type PortalRecord,
  type Sealer,
  type StepCommit,
  type Store,
} from '../../src/store/index.ts';

export interface StoreOptions {
  now?: () => number;
  failpoint?: (site: string) => void;
  sealer?: Sealer;
}

export interface StoreHarness {
  /** A store on a database of its own (a new file, a new schema). */
  fresh(options?: StoreOptions): Promise<Store>;
  /** The same database again, as after a restart (the given store is closed first by the test). */
  reopen(store: Store, options?: StoreOptions): Promise<Store>;
  /** Rows in the input journal, read past the interface. */
  journalRows(store: Store): Promise<number>;
  /** Every stored token and portal secret column as text, read past the interface. */
  rawSecrets(store: Store): Promise<string>;
  /** Drops what `fresh` made. */
  cleanup(): Promise<void>;
}

export const entry = (
  callKey: string,
  n: number,
  kind: NewOutboxEntry['kind'] = 'register',
): NewOutboxEntry => ({
  callKey,
  opId: `${callKey}:${n}`,
  seq: n,
  lane: 'card',
  kind,
  payload: { type: `bitrix.${kind}`, n },
  nextAttemptAt: 0,
});

export const step = (over: Partial<StepCommit> = {}): StepCommit => ({
  portalId: 'p1',
  now: 1000,
  input: { type: 'call.started', dedupeKey: 'e1', payload: { callId: 'c1' } },
  engine: { version: 1, seq: 0, shards: { s1: { c1: { key: 'c1@1' } } } },
  newEntries: [entry('c1@1', 0), entry('c1@1', 1, 'finish')],
  entryUpdates: [],
  ...over,
});

const portal = (memberId: string, over: Partial<PortalRecord> = {}): PortalRecord => ({
  memberId,
  domain: `${memberId}.bitrix24.ru`,
  clientEndpoint: null,
  authKind: 'oauth',
  webhookUrl: null,
  applicationToken: `app-token-${memberId}`,
  ...over,
});

export function storeSuite(name: string, h: StoreHarness): void {
  describe(`the store contract (${name})`, () => {
    afterEach(async () => {
      await h.cleanup();
    });

    it('stores a step all or nothing', async () => {
      let fail = true;
      const store = await h.fresh({
        failpoint: (site) => {
          if (fail && site === 'step') throw new Error('power cut');
        },
      });
      await expect(store.commitStep(step())).rejects.toMatchObject({ code: 'STORE_FAILED' });
      expect(await store.loadEngine('p1')).toBeUndefined();
      expect(await store.openCalls('p1')).toEqual([]);
      expect(await h.journalRows(store)).toBe(0);
      fail = false;
      expect(await store.commitStep(step())).toEqual({ stored: true, revision: 1 });
      expect(await store.loadEngine('p1')).toEqual({
        version: 1,
        seq: 0,
        revision: 1,
        shards: { s1: { c1: { key: 'c1@1' } } },
      });
      const open = await store.openCalls('p1');
      expect(open.map((e) => [e.opId, e.kind, e.status, e.seq, e.payload])).toEqual([
        ['c1@1:0', 'register', 'pending', 0, { type: 'bitrix.register', n: 0 }],
        ['c1@1:1', 'finish', 'pending', 1, { type: 'bitrix.finish', n: 1 }],
      ]);
      expect(open[0]).toMatchObject({
        portalId: 'p1',
        callKey: 'c1@1',
        lane: 'card',
        attempts: 0,
        nextAttemptAt: 0,
        lastError: null,
        note: null,
        result: null,
        createdAt: 1000,
        updatedAt: 1000,
      });
      await store.close();
    });

    it('takes a repeated input once and a replayed op id once', async () => {
      const store = await h.fresh();
      await store.commitStep(step());
      expect(await store.commitStep(step())).toEqual({ stored: false, reason: 'duplicate' });
      // Another input whose step re-emits an op id already stored (a replay): the entry is not doubled.
      expect(await store.commitStep(step({ input: { type: 'x', dedupeKey: null, payload: {} } }))).toEqual({
        stored: true,
        revision: 2,
      });
      expect(await store.openCalls('p1')).toHaveLength(2);
      expect(await h.journalRows(store)).toBe(2);
      await store.close();
    });

    it('refuses a step computed from an older revision and gives the shards changed since', async () => {
      const store = await h.fresh();
      expect(await store.commitStep(step({ expectedRevision: 0 }))).toEqual({ stored: true, revision: 1 });
      const second = step({
        input: { type: 'call.started', dedupeKey: 'e2', payload: { callId: 'c2' } },
        engine: { version: 1, seq: 0, shards: { s2: { c2: { key: 'c2@1' } } } },
        newEntries: [entry('c2@1', 0)],
        expectedRevision: 1,
      });
      expect(await store.commitStep(second)).toEqual({ stored: true, revision: 2 });
      // A step computed at revision 1 (it has not seen c2): refused, nothing stored, not even its input.
      const late = step({
        input: { type: 'call.ended', dedupeKey: 'e3', payload: { callId: 'c1' } },
        engine: { version: 1, seq: 0, shards: { s1: { c1: { key: 'c1@1', ended: true } } } },
        newEntries: [entry('c1@1', 2, 'hide')],
        expectedRevision: 1,
      });
      expect(await store.commitStep(late)).toEqual({ stored: false, reason: 'stale', revision: 2 });
      expect(await h.journalRows(store)).toBe(2);
      expect((await store.callEntries('p1', 'c1@1')).map((e) => e.opId)).toEqual(['c1@1:0', 'c1@1:1']);
      // A repeat of an input already stored is a duplicate whatever its revision.
      expect(await store.commitStep({ ...second, expectedRevision: 0 })).toEqual({
        stored: false,
        reason: 'duplicate',
      });
      // What the late instance reads: only the shard written after revision 1.
      expect(await store.loadEngine('p1', 1)).toEqual({
        version: 1,
        seq: 0,
        revision: 2,
        shards: { s2: { c2: { key: 'c2@1' } } },
      });
      expect(await store.loadEngine('p1', 2)).toEqual({ version: 1, seq: 0, revision: 2, shards: {} });
      expect(await store.commitStep({ ...late, expectedRevision: 2 })).toEqual({ stored: true, revision: 3 });
      expect((await store.loadEngine('p1'))?.shards).toEqual({
        s1: { c1: { key: 'c1@1', ended: true } },
        s2: { c2: { key: 'c2@1' } },
      });
      await store.close();
    });

    it('updates entries, requeues in-flight ones after a restart and counts the backlog', async () => {
      const store = await h.fresh();
      await store.commitStep(step());
      const [reg, fin] = await store.openCalls('p1');
      await store.updateEntries(
        [
          { id: reg!.id, status: 'done', result: { callId: 'X1' }, addAttempt: true },
          { id: fin!.id, status: 'in_flight', addAttempt: true, lastError: 'NETWORK', nextAttemptAt: 1500 },
        ],
        2000,
      );
      expect(await store.backlog('p1')).toEqual({
        pending: 0,
        inFlight: 1,
        failed: 0,
        dropped: 0,
        oldestOpenAt: 1000,
      });
      await store.close();

      const reopened = await h.reopen(store);
      expect(await reopened.requeueInFlight('p1', 3000)).toBe(1);
      const entries = await reopened.callEntries('p1', 'c1@1');
      expect(entries.map((e) => [e.status, e.attempts, e.result, e.lastError, e.nextAttemptAt])).toEqual([
        ['done', 1, { callId: 'X1' }, null, 0],
        ['pending', 1, null, 'NETWORK', 1500],
      ]);
      expect(entries.map((e) => e.updatedAt)).toEqual([2000, 3000]);
      // A partial update leaves the other fields alone; a payload and a lane may be rewritten.
      await reopened.updateEntries(
        [{ id: fin!.id, payload: { rewritten: true }, lane: 'log', note: 'n' }],
        4000,
      );
      expect(await reopened.callEntries('p1', 'c1@1')).toMatchObject([
        { status: 'done' },
        { status: 'pending', payload: { rewritten: true }, lane: 'log', note: 'n', lastError: 'NETWORK' },
      ]);
      expect(await reopened.openCalls('p1')).toHaveLength(2);
      await reopened.updateEntries([{ id: fin!.id, status: 'failed' }], 5000);
      expect(await reopened.openCalls('p1')).toEqual([]);
      expect(await reopened.backlog('p1')).toMatchObject({ pending: 0, failed: 1, oldestOpenAt: null });
      await reopened.close();
      await expect(reopened.backlog('p1')).rejects.toMatchObject({ code: 'STORE_CLOSED' });
    });

    it('hands the open calls to a claiming instance, whole and in order', async () => {
      const store = await h.fresh();
      await store.commitStep(step());
      await store.commitStep(
        step({
          input: { type: 'call.started', dedupeKey: 'e2', payload: {} },
          newEntries: [entry('c2@1', 0), entry('c2@1', 1, 'show')],
        }),
      );
      const [reg] = await store.openCalls('p1');
      await store.updateEntries([{ id: reg!.id, status: 'done' }], 1100);
      const claimed = await store.claimCalls('p1', 'me', 10_000, 10, 1200);
      // The whole call, its done register too (the planner needs its CALL_ID), by call and sequence.
      expect(claimed.map((e) => [e.opId, e.status])).toEqual([
        ['c1@1:0', 'done'],
        ['c1@1:1', 'pending'],
        ['c2@1:0', 'pending'],
        ['c2@1:1', 'pending'],
      ]);
      await store.releaseCalls('p1', 'me', ['c1@1']);
      expect(await store.claimCalls('p1', 'me', 10_000, 10, 1300)).toHaveLength(4);
      expect(await store.claimCalls('p2', 'me', 10_000, 10, 1300)).toEqual([]);
      await store.close();
    });

    it('keeps portals and their tokens (the client’s TokenStore), and forgets an uninstalled portal', async () => {
      const store = await h.fresh();
      const m1 = portal('m1');
      await store.savePortal(m1, 1);
      await store.savePortal(
        portal('m0', { authKind: 'webhook', webhookUrl: 'https://x/rest/1/s/', applicationToken: null }),
        1,
      );
      await store.tokens.save('m1', { accessToken: 'a', refreshToken: 'r', expiresAt: 5 });
      await store.tokens.save('m1', { accessToken: 'a2', refreshToken: 'r2', expiresAt: 6 });
      await store.commitStep(step({ portalId: 'm1' }));
      const [done] = await store.openCalls('m1');
      await store.updateEntries([{ id: done!.id, status: 'done' }], 2);
      await store.close();

      const again = await h.reopen(store);
      expect(await again.tokens.get('m1')).toEqual({ accessToken: 'a2', refreshToken: 'r2', expiresAt: 6 });
      expect(await again.tokens.get('m2')).toBeUndefined();
      expect(await again.getPortal('m1')).toEqual(m1);
      expect(await again.getPortal('nobody')).toBeUndefined();
      expect((await again.listPortals()).map((p) => p.memberId)).toEqual(['m0', 'm1']);
      // A re-installation brings a new application_token.
      await again.savePortal({ ...m1, applicationToken: 'app-token-2' }, 3);
      expect((await again.getPortal('m1'))?.applicationToken).toBe('app-token-2');

      await again.deletePortal('m1', 7);
      expect((await again.listPortals()).map((p) => p.memberId)).toEqual(['m0']);
      expect(await again.tokens.get('m1')).toBeUndefined();
      expect(await again.loadEngine('m1')).toBeUndefined();
      // Its open entries are dropped, with a note; the finished one stays for the record.
      expect((await again.callEntries('m1', 'c1@1')).map((e) => [e.status, e.note, e.updatedAt])).toEqual([
        ['done', null, 2],
        ['dropped', 'the app was uninstalled', 7],
      ]);
      expect(await again.openCalls('m1')).toEqual([]);
      expect(await again.backlog('m1')).toMatchObject({ dropped: 1, pending: 0 });
      await again.close();
    });

    it('keeps a CRM phone index per portal: by number, by CRM record, oldest first, gone at uninstall', async () => {
      const store = await h.fresh();
      const caller = (phone: string, over: Partial<CallerRecord> = {}): CallerRecord => ({
        phone,
        entityType: 'CONTACT',
        entityId: 1,
        responsibleId: 3,
        timemanStatus: 'OPENED',
        verifiedAt: 1000,
        ...over,
      });
      await store.savePortal(portal('m1'), 1);
      await store.callers.put('m1', [
        caller('79161234567'),
        caller('79161234568', { verifiedAt: 500 }),
        caller('74951112233', { entityType: 'COMPANY', entityId: 1, responsibleId: 4, timemanStatus: null }),
      ]);
      await store.callers.put('m2', [caller('79161234567', { responsibleId: 9 })]);
      expect(await store.callers.get('m1', '79161234567')).toEqual(caller('79161234567'));
      expect((await store.callers.get('m2', '79161234567'))?.responsibleId).toBe(9);
      expect(await store.callers.get('m1', '70000000000')).toBeUndefined();
      // A number put again is replaced, not added.
      await store.callers.put('m1', [caller('79161234567', { responsibleId: 2, verifiedAt: 2000 })]);
      expect((await store.callers.get('m1', '79161234567'))?.responsibleId).toBe(2);
      expect(await store.callers.count('m1')).toBe(3);
      expect((await store.callers.ofEntity('m1', 'CONTACT', 1)).map((r) => r.phone)).toEqual([
        '79161234567',
        '79161234568',
      ]);
      expect((await store.callers.ofEntity('m1', 'COMPANY', 1)).map((r) => r.responsibleId)).toEqual([4]);
      expect((await store.callers.oldest('m1', 1500, 10)).map((r) => r.phone)).toEqual([
        '79161234568',
        '74951112233',
      ]);
      expect((await store.callers.oldest('m1', 1500, 1)).map((r) => r.phone)).toEqual(['79161234568']);
      await store.callers.remove('m1', ['79161234568', '70000000000']);
      expect(await store.callers.count('m1')).toBe(2);
      await store.callers.put('m1', []);
      await store.callers.remove('m1', []);
      await store.deletePortal('m1', 2);
      expect(await store.callers.count('m1')).toBe(0);
      expect(await store.callers.count('m2')).toBe(1);
      await store.close();
      await expect(store.callers.get('m2', '79161234567')).rejects.toMatchObject({ code: 'STORE_CLOSED' });
    });

    it('seals tokens, application tokens and webhook URLs at rest when given a key', async () => {
      const sealer = aesSealer(randomBytes(32));
      const store = await h.fresh({ sealer });
      await store.savePortal(portal('m1', { applicationToken: 'app-secret-7f3a' }), 1);
      await store.savePortal(
        portal('m2', {
          authKind: 'webhook',
          webhookUrl: 'https://x/rest/1/hook-secret-9c1d/',
          applicationToken: null,
        }),
        1,
      );
      await store.tokens.save('m1', {
        accessToken: 'access-secret-51e2',
        refreshToken: 'refresh-secret-88b0',
        expiresAt: 5,
      });
      const raw = await h.rawSecrets(store);
      for (const secret of [
        'app-secret-7f3a',
        'hook-secret-9c1d',
        'access-secret-51e2',
        'refresh-secret-88b0',
      ])
        expect(raw).not.toContain(secret);
      expect(raw).toContain('sealed:v1:');
      await store.close();

      const again = await h.reopen(store, { sealer });
      expect((await again.getPortal('m1'))?.applicationToken).toBe('app-secret-7f3a');
      expect((await again.getPortal('m2'))?.webhookUrl).toBe('https://x/rest/1/hook-secret-9c1d/');
      expect((await again.tokens.get('m1'))?.refreshToken).toBe('refresh-secret-88b0');
      await again.close();
      // Without the key the secrets cannot be read, and the store says why.
      const keyless = await h.reopen(again);
      await expect(keyless.tokens.get('m1')).rejects.toMatchObject({ code: 'STORE_KEY_MISMATCH' });
      await keyless.close();
    });

    it('keeps the admin UI’s settings with a revision, and its sessions until they expire', async () => {
      const store = await h.fresh();
      expect(await store.admin.getSetting('lines')).toBeUndefined();
      expect(await store.admin.putSetting('lines', { version: 1, portals: { p: [] } }, 10)).toBe(1);
      expect(await store.admin.putSetting('lines', { version: 1, portals: {} }, 20)).toBe(2);
      expect(await store.admin.getSetting('lines')).toEqual({
        value: { version: 1, portals: {} },
        revision: 2,
      });

      await store.admin.addSession('d1', 100, 1100, 3);
      expect(await store.admin.sessionAlive('d1', 1099)).toBe(true);
      expect(await store.admin.sessionAlive('d1', 1100)).toBe(false);
      expect(await store.admin.sessionAlive('unknown', 100)).toBe(false);
      // Past the cap the oldest go first.
      for (const [i, d] of ['d2', 'd3', 'd4'].entries()) await store.admin.addSession(d, 200 + i, 5000, 3);
      expect(await store.admin.sessionAlive('d1', 300)).toBe(false);
      for (const d of ['d2', 'd3', 'd4']) expect(await store.admin.sessionAlive(d, 300)).toBe(true);
      await store.admin.removeSession('d3');
      expect(await store.admin.sessionAlive('d3', 300)).toBe(false);
      await store.close();

      // Another instance, or this one after a restart, sees the same.
      const again = await h.reopen(store);
      expect((await again.admin.getSetting('lines'))?.revision).toBe(2);
      expect(await again.admin.sessionAlive('d4', 300)).toBe(true);
      await again.close();
    });

    it('parks a PBX’s events in order, bounded (the oldest go), until they are fed and removed', async () => {
      const store = await h.fresh();
      const ev = (n: number) => ({ type: 'call.started', callId: `c${String(n)}`, at: n });
      expect(await store.parked.count('ast')).toBe(0);
      expect(await store.parked.park('ast', [ev(1), ev(2), ev(3)], 10, 5)).toEqual({ dropped: 0, parked: 3 });
      expect(await store.parked.park('other', [ev(9)], 10, 5)).toEqual({ dropped: 0, parked: 1 });
      // Past the bound the oldest go, and only this PBX's.
      expect(await store.parked.park('ast', [ev(4), ev(5), ev(6), ev(7)], 20, 5)).toEqual({
        dropped: 2,
        parked: 5,
      });
      const first = await store.parked.oldest('ast', 3);
      expect(first.map((p) => p.event)).toEqual([ev(3), ev(4), ev(5)]);
      expect(first.map((p) => p.id)).toEqual([...first.map((p) => p.id)].sort((a, b) => a - b));
      expect(await store.parked.remove('ast', first.at(-1)?.id ?? 0)).toBe(2);
      await store.close();

      // Kept across a restart, in order; another PBX's untouched.
      const again = await h.reopen(store);
      expect((await again.parked.oldest('ast', 10)).map((p) => p.event)).toEqual([ev(6), ev(7)]);
      expect(await again.parked.count('other')).toBe(1);
      const rest = await again.parked.oldest('ast', 10);
      expect(await again.parked.remove('ast', rest.at(-1)?.id ?? 0)).toBe(0);
      expect(await again.parked.oldest('ast', 10)).toEqual([]);
      await again.close();
    });
  });
}
