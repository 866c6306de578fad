import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CrmPhoneIndex, learnFrom, phoneKey } from '../../src/crm-index/index.ts';
import { SqliteStore } from '../../src/store/index.ts';
import { quiet, startHarness, type Harness } from '../bitrix/helpers.ts';

/**
 * The CRM phone index against the emulated portal over real HTTP, on a real SQLite store: what it
 * learns from lookups, what a CRM change makes it ask again, and the reconcile's one request.
 */
describe('the CRM phone index', () => {
  let h: Harness;
  let store: SqliteStore;
  let now = 1_000_000;
  let index: CrmPhoneIndex;
  beforeEach(async () => {
    h = await startHarness({ portalLimit: { rate: 50, burst: 500 } });
    store = await SqliteStore.open({ path: ':memory:' });
    now = 1_000_000;
    index = new CrmPhoneIndex({
      portalId: h.memberId,
      store: store.callers,
      api: h.api,
      settings: { reconcileSec: 0, maxAgeSec: 3600, workdayTrustSec: 600 },
      now: () => now,
    });
  });
  afterEach(async () => {
    index.close();
    await store.close();
    await h.close();
  });

  const settled = (): Promise<void> => quiet(h.client, h.memberId);

  it('keys numbers by their digits, without an extension or the 00 prefix', () => {
    expect(phoneKey('+7 (916) 123-45-67')).toBe('79161234567');
    expect(phoneKey('0079161234567')).toBe('79161234567');
    expect(phoneKey('+79161234567;ext=12')).toBe('79161234567');
    expect(phoneKey('101')).toBeNull();
    expect(phoneKey('')).toBeNull();
  });

  it('learns a caller from any searchCrmEntities the bridge makes, and answers from the store', async () => {
    expect(await index.lookup('+79161234567')).toBeUndefined();
    const api = learnFrom(h.api, index);
    const learnt = new Promise<void>((resolve) => index.once('updated', () => resolve()));
    const matches = await api.externalCall.searchCrmEntities('+79161234567');
    expect(matches[0]?.assignedById).toBe(3);
    await learnt;
    expect(await index.lookup('+7 916 123 45 67')).toEqual({
      crmEntityType: 'CONTACT',
      crmEntityId: 1,
      userId: 3,
      timemanStatus: 'OPENED',
    });
    // Unchanged: the wrapped API is still the portal's API.
    expect((await api.user.current()).id).toBe(1);
  });

  it('a changed responsible, a new number and a deleted record are asked about again', async () => {
    await index.learn('+79161234567', await h.api.externalCall.searchCrmEntities('+79161234567'));
    await h.api.call('crm.contact.update', {
      id: 1,
      fields: { ASSIGNED_BY_ID: 4, PHONE: [{ VALUE: '+79167770000', VALUE_TYPE: 'MOBILE' }] },
    });
    h.mark();
    await index.changed('CONTACT', 1, false);
    expect((await index.lookup('+79161234567'))?.userId).toBe(4);
    expect((await index.lookup('+79167770000'))?.userId).toBe(4);
    // The record, then both numbers in one batch.
    expect(h.requests.map((r) => r.commands.length)).toEqual([1, 2]);

    await h.api.call('crm.contact.delete', { id: 1 });
    await index.changed('CONTACT', 1, true);
    expect(await index.lookup('+79161234567')).toBeUndefined();
    expect(await store.callers.count(h.memberId)).toBe(0);
  });

  it('a manager’s workday told long ago is not gone by, and the number is asked about again', async () => {
    await index.learn('+79161234567', await h.api.externalCall.searchCrmEntities('+79161234567'));
    const boris = h.emulator.portal.users.get(3);
    if (boris) boris.timemanStatus = 'CLOSED';
    now += 601_000;
    const asked = new Promise<void>((resolve) => index.once('updated', () => resolve()));
    expect(await index.lookup('+79161234567')).toMatchObject({ userId: 3, timemanStatus: null });
    await asked;
    expect(await index.lookup('+79161234567')).toMatchObject({ userId: 3, timemanStatus: 'CLOSED' });
  });

  it('the reconcile confirms the oldest numbers, up to 50 in one request, and drops those gone', async () => {
    const old = now - 7200_000;
    const record = (phone: string, entityId: number) => ({
      phone,
      entityType: 'CONTACT',
      entityId,
      responsibleId: 2,
      timemanStatus: null,
      verifiedAt: old,
    });
    await store.callers.put(h.memberId, [
      record('79161234567', 1),
      ...Array.from({ length: 55 }, (_, i) => record(`7903000${String(1000 + i)}`, 500 + i)),
    ]);
    await store.callers.put(h.memberId, [{ ...record('74951112233', 1), verifiedAt: now }]);
    h.mark();
    expect(await index.reconcile()).toBe(50);
    await settled();
    expect(h.requests).toHaveLength(1);
    expect(h.requests[0]?.commands).toHaveLength(50);
    // The 50 confirmed longest ago were numbers nobody has any more.
    expect(await store.callers.count(h.memberId)).toBe(57 - 50);
    expect(await index.reconcile()).toBe(6);
    expect(await store.callers.count(h.memberId)).toBe(2);
    expect((await index.lookup('+79161234567'))?.userId).toBe(3);
    // Nothing due: nothing asked.
    h.mark();
    expect(await index.reconcile()).toBe(0);
    expect(h.requests).toHaveLength(0);
  });
});
