/**
 * The plan `POST /pbx/v1/route` answers when the engine's own answer does not come in time (the
 * store is slow or refusing): the configured routing of the call's line, without the parts that
 * need the portal (the responsible manager) or the live calls (who is busy). Ringing a busy member
 * costs the caller a few seconds; not answering the PBX in time costs the call.
 */
import type { BridgeConfig } from '../config/index.ts';
import type { PlanStep, RouteRequested } from '../pbx/index.ts';

type EngineSettings = BridgeConfig['engine'];
type Routing = EngineSettings['defaultLine']['routing'];
type Queue = Extract<Routing, { kind: 'queue' }>['queue'];

function queuePlan(queue: Queue): PlanStep[] {
  return queue.strategy === 'sequential'
    ? queue.members.map((member) => ({ extensions: [member], timeoutSec: queue.memberTimeoutSec }))
    : [{ extensions: [...queue.members], timeoutSec: queue.memberTimeoutSec }];
}

export function fallbackPlan(engine: EngineSettings, request: RouteRequested): PlanStep[] {
  const numbers = [request.line, request.to].filter((n): n is string => n !== undefined);
  const line = engine.lines.find(
    (l) =>
      (l.number !== undefined && numbers.includes(l.number)) ||
      (l.calledNumbers ?? []).some((n) => numbers.includes(n)),
  );
  const routing: Routing = line?.routing ?? engine.defaultLine.routing;
  switch (routing.kind) {
    case 'direct':
      return [
        {
          extensions: [routing.extension ?? request.to],
          timeoutSec: routing.timeoutSec ?? engine.ringTimeoutSec,
        },
      ];
    case 'queue':
      return queuePlan(routing.queue);
    case 'responsible':
      return queuePlan(routing.then);
  }
}
