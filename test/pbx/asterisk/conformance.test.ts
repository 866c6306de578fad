/** The Asterisk adapter in the shared conformance suite: real captures replayed by a fake AMI. */
import { once } from 'node:events';
import { pbxSink } from '../../../src/bridge/adapters.ts';
import { AsteriskAdapter } from '../../../src/pbx/asterisk/index.ts';
import type { PbxEvent } from '../../../src/pbx/index.ts';
import { CommandBoard, CommandRouter } from '../../../src/intake/index.ts';
import {
  clickToCall,
  conformanceConfig,
  JournalIntake,
  pbxConformance,
  PBX_TOKEN,
  type ScenarioName,
} from '../conformance.ts';
import { captureMessages, FakeAmi } from './fake-ami.ts';
import { fakeAmiSettings } from './helpers.ts';

const captures: Record<Exclude<ScenarioName, 'click-to-call' | 'transfer'>, string> = {
  'direct answered': '01-inbound-direct',
  missed: '10-inbound-missed-caller-hangup',
  queue: '03-queue-ringall',
  recording: '02-inbound-recorded',
  'repeated delivery': '01-inbound-direct',
};

pbxConformance('asterisk (AMI)', async () => {
  const ami = await FakeAmi.start();
  const config = conformanceConfig({
    kind: 'asterisk',
    ami: fakeAmiSettings(ami),
  });
  const settings = config.pbx[0]?.ami;
  if (settings === undefined) throw new Error('no AMI settings');
  const intake = new JournalIntake();
  const board = new CommandBoard();
  const router = new CommandRouter({ pbxes: [{ id: 'office', token: PBX_TOKEN }], board });
  const adapter = new AsteriskAdapter({
    pbxId: 'office',
    ami: { ...settings, recordings: { urlBase: 'http://pbx.test/monitor' } },
    retry: { minDelayMs: 5, maxDelayMs: 20 },
    deliveryRetry: { minDelayMs: 5, maxDelayMs: 20 },
    pingIntervalMs: 0,
  });
  router.attach('office', (command) => adapter.execute(command));
  const synced = once(adapter, 'synced');
  await adapter.start(pbxSink('office', { config, outboxFor: () => intake, router }));
  await synced;
  let run = 0;

  /** Each replay gets ids of its own, as a PBX never reuses a Uniqueid. */
  const fresh = (messages: string[]): string[] =>
    messages.map((m) => m.replace(/\b1795(\d{6}\.\d+)\b/g, `${String(2000 + run)}$1`));

  async function play(scenario: ScenarioName): Promise<readonly PbxEvent[]> {
    run += 1;
    const from = intake.stepped.length;
    const ended = (): Promise<void> =>
      intake.until((events) => events.slice(from).some((e) => e.type === 'call.ended'));
    switch (scenario) {
      case 'click-to-call': {
        ami.handlers.set('Originate', (action) => {
          const id = action.ChannelId ?? '';
          ami.send(
            captureMessages('07-click-to-call').map((m) =>
              m
                .replaceAll('ActionID: cap-9', `ActionID: ${action.ActionID ?? ''}`)
                .replaceAll('c2c-0001-a', id)
                .replaceAll('c2c-0001-b', `${id}-2`),
            ),
          );
        });
        router.dispatch([{ ...clickToCall, type: 'pbx.originate', callKey: 'k' }]);
        await intake.until((events) => events.slice(from).some((e) => e.type === 'recording.ready'));
        break;
      }
      case 'transfer': {
        const messages = fresh(captureMessages('13-inbound-redirect'));
        const at = messages.findIndex((m) => m.includes('Message: Redirect successful'));
        ami.handlers.set('Redirect', (action) => {
          ami.send([messages[at]!.replace('ActionID: cap-16', `ActionID: ${action.ActionID ?? ''}`)]);
          ami.send(messages.slice(at + 1));
        });
        ami.send(messages.slice(0, at));
        await intake.until((events) => events.length > from);
        const callId = intake.events(from)[0]?.callId ?? '';
        router.dispatch([
          { type: 'pbx.transfer', commandId: `transfer-${callId}`, callKey: 'k', callId, extension: '102' },
        ]);
        await ended();
        break;
      }
      case 'repeated delivery': {
        // The link drops mid-call and the store refuses once: the call must still come once.
        const messages = fresh(captureMessages(captures[scenario]));
        const talking = messages.findIndex((m) => m.includes('BridgeNumChannels: 2')) + 1;
        ami.send(messages.slice(0, talking));
        await intake.until((events) => events.slice(from).some((e) => e.type === 'call.answered'));
        const resynced = once(adapter, 'synced');
        ami.drop();
        await resynced;
        intake.refuse = 1;
        ami.send(messages.slice(talking));
        await ended();
        break;
      }
      default: {
        ami.send(fresh(captureMessages(captures[scenario])));
        if (scenario === 'recording' || scenario === 'queue')
          await intake.until((events) => events.slice(from).some((e) => e.type === 'recording.ready'));
        else await ended();
      }
    }
    return intake.events(from);
  }

  return {
    play,
    close: async () => {
      await adapter.stop();
      router.close();
      board.close();
      await ami.close();
    },
  };
});
