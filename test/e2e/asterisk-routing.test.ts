import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { captureMessages, FakeAmi } from '../pbx/asterisk/fake-ami.ts';
import { installedBridge, waitFor } from './processes.ts';
import {
  asPortalUser,
  asteriskPbx,
  cardLogOf,
  cardsUp,
  expectManagerAlone,
  finishedCall,
  freshCapture,
  indexSays,
  linkedidOf,
  portalLatency,
} from './office.ts';

/**
 * The bridge as a real process with an Asterisk in its configuration (mirror mode: Asterisk's own
 * dialplan decides what rings), a fake AMI replaying the captures, the emulator as a real process.
 * A known caller is moved to their manager with AMI Redirect, whose card is the first and only
 * one, at any portal latency; the target of an attended transfer sees the card while it rings.
 */
describe('routing through the Asterisk adapter', () => {
  let ami: FakeAmi;
  beforeAll(async () => {
    ami = await FakeAmi.start();
  });
  afterAll(async () => {
    await ami.close();
  });
  const t = installedBridge('b24-ami-route-', {
    config: () => ({
      engine: {
        recording: { maxWaitSec: 0, hideGraceSec: 0 },
        lines: [
          {
            // The DID of the redirect capture: a caller held there, as in an IVR.
            id: 'sales',
            number: '+74950000001',
            calledNumbers: ['200'],
            routing: {
              kind: 'responsible',
              responsibleTimeoutSec: 20,
              then: { members: ['101', '102', '103'], strategy: 'simultaneous', memberTimeoutSec: 20 },
            },
          },
        ],
      },
      pbx: [...asteriskPbx(ami.port)],
    }),
  });
  beforeAll(async () => {
    await waitFor('the AMI login', () => Promise.resolve(ami.logins > 0 ? true : undefined));
  });
  afterEach(async () => {
    ami.handlers.delete('Redirect');
    await portalLatency(t.emulator, 0);
  });

  let run = 4000;
  const fresh = (messages: string[]): string[] => freshCapture(messages, (run += 1));
  const idOf = linkedidOf;

  it.each([0, 400, 1500])(
    'a known caller, portal %i ms late: Redirect to the manager, whose card is the first and only one',
    async (latencyMs) => {
      await asPortalUser(t.emulator, 'crm.contact.update', { id: 1, fields: { ASSIGNED_BY_ID: 3 } });
      await indexSays(t.setup.sqlitePath, '79161234567', (c) => c.responsibleId === 3);
      await portalLatency(t.emulator, latencyMs);
      const capture = fresh(captureMessages('13-inbound-redirect'));
      const at = capture.findIndex((m) => m.includes('Message: Redirect successful'));
      const redirected = new Promise<Record<string, string>>((resolve) => {
        ami.handlers.set('Redirect', (action) => {
          resolve(action);
          ami.send([capture[at]?.replace(/^ActionID: .*$/m, `ActionID: ${action.ActionID ?? ''}`) ?? '']);
          ami.send(capture.slice(at + 1));
        });
      });
      // The caller waits in the dialplan; nothing rings, and the PBX asks nothing: the bridge moves
      // the call to the manager itself.
      ami.send(capture.slice(0, at));
      expect(await redirected).toMatchObject({ Exten: '102', Context: 'from-internal' });
      await expectManagerAlone(t.emulator, idOf(capture), 3, { type: 'CONTACT', id: 1 });
    },
  );

  it('an attended transfer: the target sees the card within 300 ms of their phone ringing', async () => {
    const capture = fresh(captureMessages('16-attended-transfer'));
    const rings = capture.findIndex(
      (m) => m.startsWith('Event: Newstate') && m.includes('Local/102@sim-phones') && m.includes('Ringing'),
    );
    // The call is answered by 101 (Anna) and 101 starts the consultation with 102.
    ami.send(capture.slice(0, rings));
    const callId = idOf(capture);
    const bitrixCallId = await waitFor('Anna’s card', async () => {
      const cards = await cardsUp(t.emulator);
      return cards.find((c) => c.userId === 2)?.callId;
    });
    const sent = Date.now();
    ami.send([capture[rings] ?? '']);
    const shown = await waitFor('Boris’s card', async () =>
      (await cardLogOf(t.emulator, bitrixCallId)).find((e) => e.action === 'show' && e.userId === 3),
    );
    expect(shown.at - sent).toBeLessThan(300);
    ami.send(capture.slice(rings + 1));
    expect(await finishedCall(t.emulator, callId)).toMatchObject({ finishedBy: 3, statusCode: '200' });
    await waitFor('no card left', async () => ((await cardsUp(t.emulator)).length === 0 ? true : undefined));
  });
});
