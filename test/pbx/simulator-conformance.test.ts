/**
 * The PBX simulator in the shared conformance suite: its office (agents who answer or not, callers
 * who give up) plays each scenario against the bridge's real server, over HTTP, into the
 * journal-like intake; commands reach it by its own long poll.
 */
import { once } from 'node:events';
import type { PbxEvent } from '../../src/pbx/index.ts';
import { startSimulator, type SimulatedCallResult } from 'b24-pbx-simulator';
import { buildServer } from '../../src/server/index.ts';
import {
  CALLER,
  clickToCall,
  conformanceConfig,
  JournalIntake,
  pbxConformance,
  PBX_TOKEN,
  type ScenarioName,
} from './conformance.ts';

pbxConformance(
  'simulator',
  async () => {
    const intake = new JournalIntake();
    // The simulated office serves its recordings on the loopback, which a PBX must name to use.
    const server = buildServer({
      config: conformanceConfig({ kind: 'simulator', recordingHosts: ['127.0.0.1'] }),
      outboxFor: () => intake,
    });
    const url = await server.app.listen({ host: '127.0.0.1', port: 0 });
    const sim = await startSimulator({
      bridgeUrl: url,
      token: PBX_TOKEN,
      // The office's own waits (seconds below) run 100 times faster; `at` stays real time.
      speed: 100,
      agents: [
        { extension: '101', answerProbability: 1, answerAfterSec: 3 },
        { extension: '102', answerProbability: 1, answerAfterSec: 3 },
        { extension: '104', answerProbability: 0 },
        { extension: '201', answerProbability: 0 },
        { extension: '202', answerProbability: 1, answerAfterSec: 2 },
        { extension: '203', answerProbability: 1, answerAfterSec: 4 },
      ],
      talkSec: 5,
      recordingDelaySec: 1,
      originatePickupSec: 2,
      callee: { answerProbability: 1, answerAfterSec: 3 },
      commands: { waitSec: 1 },
      delivery: { retry: { baseMs: 5, maxMs: 20 } },
    });

    async function play(scenario: ScenarioName): Promise<readonly PbxEvent[]> {
      const from = intake.stepped.length;
      const inbound = (to: string, patienceSec = 60): Promise<SimulatedCallResult> =>
        sim.placeCall({ from: CALLER, to, patienceSec });
      switch (scenario) {
        case 'direct answered':
          await inbound('101');
          break;
        case 'recording':
          await inbound('102');
          break;
        case 'missed':
          await inbound('104', 6);
          break;
        case 'queue':
          intake.plan = () => [{ extensions: ['201', '202', '203'], timeoutSec: 30 }];
          await inbound('600');
          intake.plan = (r) => [{ extensions: [r.to], timeoutSec: 30 }];
          break;
        case 'click-to-call': {
          const done = once(sim.events, 'call.ended');
          server.router.dispatch([{ ...clickToCall, type: 'pbx.originate', callKey: 'k' }]);
          await done;
          break;
        }
        case 'repeated delivery':
          // The bridge's store refuses a batch: the simulator repeats it, and nothing comes twice.
          intake.refuse = 1;
          await inbound('101');
          break;
        case 'transfer':
          throw new Error('left out');
      }
      // The call's last events (its recording) may still be on their way when it is over.
      await sim.idle();
      return intake.events(from);
    }

    return {
      play,
      close: async () => {
        await sim.stop();
        await server.app.close();
      },
    };
  },
  {
    transfer:
      'the simulator has no caller held by the PBX itself (capture 13 holds the caller in the dialplan); ' +
      'its transfers are covered by src/pbx/simulator/scenarios.test.ts',
  },
);
