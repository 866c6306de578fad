import type { Simulator } from 'b24-pbx-simulator';
import { defaultSeed } from 'b24-emulator';
import { afterEach, describe, expect, it } from 'vitest';
import { installedBridge, waitFor } from './processes.ts';
import {
  asPortalUser,
  cardLogOf,
  cardsUp,
  expectManagerAlone,
  finishedCall,
  indexSays,
  officePbx,
  picksUp,
  portalLatency,
  SALES,
  slow,
} from './office.ts';

/**
 * Scenario 3 as an office lives it, with real processes: the emulator and the bridge, and a PBX
 * (the simulator) that rings exactly the plan the bridge returns for `POST /pbx/v1/route` and
 * carries out every command it sends. The portal answers every REST request 0, 400 and 1,500 ms
 * late, as real ones do.
 */
const seed = defaultSeed();
/** Clients of Boris (user 3, extension 102) the bridge has never heard of: one per test. */
const clients = [2, 3, 4, 5, 6, 7].map((id) => ({
  id,
  name: `Client ${String(id)}`,
  phones: [`+7916555000${String(id)}`],
  assignedById: 3,
}));
seed.contacts = [...(seed.contacts ?? []), ...clients];

const digits = (phone: string): string => phone.replace(/\D/g, '');

describe('a known caller reaches the manager first, at any portal latency', () => {
  // No default user: the engine logs to the dialled extension's user or the installer.
  const t = installedBridge('b24-s3-', {
    seed,
    config: { engine: { recording: { maxWaitSec: 0, hideGraceSec: 0 } } },
  });
  let pbx: Simulator | undefined;
  afterEach(async () => {
    await pbx?.stop();
    pbx = undefined;
    await portalLatency(t.emulator, 0);
  });

  /** The plans the PBX was given, by call. */
  const plansOf = (sim: Simulator): Map<string, readonly { extensions: readonly string[] }[]> => {
    const plans = new Map<string, readonly { extensions: readonly string[] }[]>();
    sim.events.on('route.planned', (r) => plans.set(r.callId, r.plan));
    return plans;
  };

  it.each([0, 400, 1500])(
    'from the index, portal %i ms late: the plan puts Boris first, his card is the only one, the call is his on the contact',
    async (latencyMs) => {
      // The index learns Ivan Petrov (contact 1, Boris) from the CRM: a change of the record.
      await asPortalUser(t.emulator, 'crm.contact.update', { id: 1, fields: { ASSIGNED_BY_ID: 3 } });
      await indexSays(t.setup.sqlitePath, '79161234567', (c) => c.responsibleId === 3);
      await portalLatency(t.emulator, latencyMs);
      pbx = await officePbx(t.setup.url, [slow('101'), picksUp('102', 1), slow('103')]);
      const plans = plansOf(pbx);
      const result = await pbx.placeCall({ from: '+79161234567', to: SALES, talkSec: 2, patienceSec: 60 });
      expect(plans.get(result.callId)?.[0]?.extensions).toEqual(['102']);
      expect(result).toMatchObject({ reason: 'completed', answeredBy: '102' });

      await expectManagerAlone(t.emulator, result.callId, 3, { type: 'CONTACT', id: 1 });
    },
  );

  it.each([
    [400, clients[0]],
    [1500, clients[1]],
  ])(
    'not in the index, portal %i ms late: the queue rings, the lookup lands, the call moves to Boris alone',
    async (latencyMs, client) => {
      if (client === undefined) throw new Error('no client');
      const phone = client.phones[0] ?? '';
      await portalLatency(t.emulator, latencyMs);
      pbx = await officePbx(t.setup.url, [slow('101'), picksUp('102', 6), slow('103')]);
      const plans = plansOf(pbx);
      const transfers: { callId: string; extension: string }[] = [];
      pbx.events.on('command.received', (c) => {
        if (c.type === 'transfer') transfers.push(c);
      });
      const result = await pbx.placeCall({ from: phone, to: SALES, talkSec: 2, patienceSec: 90 });
      expect(plans.get(result.callId)?.[0]?.extensions).toEqual(['101', '102', '103']);
      expect(transfers).toEqual([expect.objectContaining({ callId: result.callId, extension: '102' })]);
      expect(result).toMatchObject({ reason: 'completed', answeredBy: '102' });

      const call = await finishedCall(t.emulator, result.callId);
      expect(call).toMatchObject({ finishedBy: 3, crmEntityType: 'CONTACT', crmEntityId: client.id });
      // The cards followed: the other members' went down when the call left them, Boris's stayed.
      const log = await cardLogOf(t.emulator, call.callId);
      for (const member of [2, 4]) {
        const theirs = log.filter((e) => e.userId === member).map((e) => e.action);
        expect(theirs.at(-1) ?? 'hide').toBe('hide');
      }
      expect(log.filter((e) => e.userId === 3 && e.action === 'show').length).toBeGreaterThan(0);
      await waitFor('no card left', async () =>
        (await cardsUp(t.emulator)).length === 0 ? true : undefined,
      );
      // The lookup taught the index: the next call from the number goes to Boris first.
      await indexSays(t.setup.sqlitePath, digits(phone), (c) => c.responsibleId === 3);
    },
  );

  it('a responsible changed in the CRM is routed to the new manager within 10 s, without a restart', async () => {
    const client = clients[2];
    if (client === undefined) throw new Error('no client');
    const phone = client.phones[0] ?? '';
    await asPortalUser(t.emulator, 'crm.contact.update', { id: client.id, fields: { NAME: 'Client' } });
    await indexSays(t.setup.sqlitePath, digits(phone), (c) => c.responsibleId === 3);
    await portalLatency(t.emulator, 400);
    await asPortalUser(t.emulator, 'crm.contact.update', { id: client.id, fields: { ASSIGNED_BY_ID: 4 } });
    const changed = Date.now();
    await indexSays(t.setup.sqlitePath, digits(phone), (c) => c.responsibleId === 4, 10_000);
    expect(Date.now() - changed).toBeLessThan(10_000);

    pbx = await officePbx(t.setup.url, [slow('101'), slow('102'), picksUp('103', 1)]);
    const plans = plansOf(pbx);
    const result = await pbx.placeCall({ from: phone, to: SALES, talkSec: 2, patienceSec: 60 });
    expect(plans.get(result.callId)?.[0]?.extensions).toEqual(['103']);
    expect(Date.now() - changed).toBeLessThan(30_000);
    expect(await finishedCall(t.emulator, result.callId)).toMatchObject({
      finishedBy: 4,
      crmEntityId: client.id,
    });
  });

  it('a manager whose workday is closed is skipped: the call goes straight to the queue', async () => {
    const client = clients[3];
    if (client === undefined) throw new Error('no client');
    const phone = client.phones[0] ?? '';
    await t.emulator.control('users/3', { timemanStatus: 'CLOSED' });
    try {
      await asPortalUser(t.emulator, 'crm.contact.update', { id: client.id, fields: { NAME: 'Client' } });
      await indexSays(t.setup.sqlitePath, digits(phone), (c) => c.timemanStatus === 'CLOSED');
      pbx = await officePbx(t.setup.url, [picksUp('101', 1), slow('102'), slow('103')]);
      const plans = plansOf(pbx);
      const result = await pbx.placeCall({ from: phone, to: SALES, talkSec: 2, patienceSec: 60 });
      expect(plans.get(result.callId)?.[0]?.extensions).toEqual(['101', '102', '103']);
      expect(await finishedCall(t.emulator, result.callId)).toMatchObject({ finishedBy: 2 });
    } finally {
      await t.emulator.control('users/3', { timemanStatus: 'OPENED' });
    }
  });
});
