/**
 * The generic HTTP API (`/pbx/v1`) in the shared conformance suite: the test is the PBX, posting
 * events as a PBX integration would, fetching commands by long poll, through the bridge's real
 * server into the journal-like intake.
 */
import { expect } from 'vitest';
import type { PbxCommand, PbxEvent } from '../../src/pbx/index.ts';
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

pbxConformance('webhook (HTTP API)', async () => {
  const intake = new JournalIntake();
  const server = buildServer({ config: conformanceConfig(), outboxFor: () => intake });
  const url = await server.app.listen({ host: '127.0.0.1', port: 0 });
  const headers = { authorization: `Bearer ${PBX_TOKEN}`, 'content-type': 'application/json' };
  let n = 0;

  async function post(events: unknown): Promise<void> {
    const res = await fetch(`${url}/pbx/v1/events`, {
      method: 'POST',
      headers,
      body: JSON.stringify(events),
    });
    expect(res.status, await res.text()).toBe(202);
  }
  async function nextCommand(): Promise<PbxCommand> {
    const res = await fetch(`${url}/pbx/v1/commands?waitSec=5`, { headers });
    const [command] = (await res.json()) as PbxCommand[];
    if (command === undefined) throw new Error('no command');
    await fetch(`${url}/pbx/v1/commands/${command.commandId}/ack`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ status: 'done' }),
    });
    return command;
  }

  async function play(scenario: ScenarioName): Promise<readonly PbxEvent[]> {
    n += 1;
    const from = intake.stepped.length;
    const callId = `webhook-${String(n)}`;
    const t0 = Date.UTC(2026, 10, 24, 10, n);
    const at = (sec: number): string => new Date(t0 + sec * 1000).toISOString();
    const inbound = (to: string) => ({
      type: 'call.started',
      callId,
      direction: 'inbound',
      from: CALLER,
      to,
      at: at(0),
    });
    switch (scenario) {
      case 'direct answered':
      case 'recording': {
        const ext = scenario === 'recording' ? '102' : '101';
        await post(inbound(ext));
        await post({ type: 'call.ringing', callId, extensions: [ext], at: at(0) });
        await post([
          { type: 'call.answered', callId, extension: ext, at: at(3) },
          { type: 'call.ended', callId, reason: 'completed', at: at(8) },
        ]);
        if (scenario === 'recording')
          await post({
            type: 'recording.ready',
            callId,
            url: `http://pbx.test/rec/${callId}.wav`,
            at: at(9),
          });
        break;
      }
      case 'missed':
        await post([inbound('104'), { type: 'call.ringing', callId, extensions: ['104'], at: at(0) }]);
        await post([
          { type: 'call.ring_stopped', callId, extensions: ['104'], at: at(6) },
          { type: 'call.ended', callId, reason: 'cancelled', at: at(6) },
        ]);
        break;
      case 'queue':
        await post([
          inbound('600'),
          { type: 'call.ringing', callId, extensions: ['201', '202', '203'], at: at(0) },
        ]);
        await post([
          { type: 'call.answered', callId, extension: '202', at: at(2) },
          { type: 'call.ring_stopped', callId, extensions: ['201', '203'], at: at(2) },
        ]);
        await post({ type: 'call.ended', callId, reason: 'completed', at: at(7) });
        break;
      case 'click-to-call': {
        server.router.dispatch([{ ...clickToCall, type: 'pbx.originate', callKey: 'k' }]);
        const command = await nextCommand();
        if (command.type !== 'originate') throw new Error('expected an originate');
        const id = command.callId;
        await post([
          {
            type: 'call.started',
            callId: id,
            direction: 'outbound',
            from: command.extension,
            to: command.number,
            at: at(0),
          },
          { type: 'call.ringing', callId: id, extensions: [command.extension], at: at(0) },
        ]);
        await post([
          { type: 'call.answered', callId: id, extension: command.extension, at: at(5) },
          { type: 'call.ended', callId: id, reason: 'completed', at: at(11) },
        ]);
        break;
      }
      case 'transfer': {
        await post(inbound('200'));
        server.router.dispatch([
          { type: 'pbx.transfer', commandId: `t-${callId}`, callKey: 'k', callId, extension: '102' },
        ]);
        const command = await nextCommand();
        await post([
          { type: 'call.transferred', callId: command.callId, to: command.extension, at: at(2) },
          { type: 'call.ringing', callId, extensions: [command.extension], at: at(2) },
          { type: 'call.answered', callId, extension: command.extension, at: at(5) },
        ]);
        await post({ type: 'call.ended', callId, reason: 'completed', at: at(10) });
        break;
      }
      case 'repeated delivery': {
        // A PBX that lost the answers repeats its requests; a refused one is repeated as well.
        const body = [
          inbound('101'),
          { type: 'call.ringing', callId, extensions: ['101'], at: at(0) },
          { type: 'call.answered', callId, extension: '101', at: at(3) },
        ];
        await post(body);
        intake.refuse = 1;
        const refused = await fetch(`${url}/pbx/v1/events`, {
          method: 'POST',
          headers,
          body: JSON.stringify(body),
        });
        expect(refused.status).toBe(503);
        await post(body);
        await post({ type: 'call.ended', callId, reason: 'completed', at: at(8) });
        await post({ type: 'call.ended', callId, reason: 'completed', at: at(8) });
        break;
      }
    }
    return intake.events(from);
  }

  return { play, close: () => server.app.close() };
});
