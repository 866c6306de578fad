/**
 * `POST /pbx/v1/route`: the PBX asks what to ring for a new call and dials the plan it is given,
 * step by step: one step with many extensions rings them together, a step per member rings them in
 * turn.
 */
import { z } from 'zod';
import type { PlanStep, RouteRequested } from '../types.ts';
import { DEFAULT_MAX_BODY_BYTES, parseJsonBody } from './body.ts';
import { ok, problem, refuse, refuseAll, type Parsed } from './errors.ts';
import * as field from './fields.ts';
import { isRecord, jsonTypeOf, problemsOf } from './issues.ts';

export const routeRequestSchema = z
  .object({
    callId: field.callId,
    from: field.phoneNumber.meta({ description: 'Who calls; may be empty for a withheld number.' }),
    to: field.dialledNumber.meta({ description: 'The number or extension dialled.' }),
    line: field.line.nullish(),
  })
  .meta({
    description: 'What the PBX knows of a new call when it asks where to send it.',
    examples: [{ callId: '1773130000.42', from: '+79161234567', to: '+74950000001', line: '+74950000001' }],
  });

export const planStepSchema = z
  .object({
    extensions: z.array(field.extension).meta({ description: 'Ring these together.' }),
    timeoutSec: z.number().int().min(0).meta({ description: 'How long this step rings before the next.' }),
  })
  .meta({ description: 'One step of a plan.' });

export const routeResponseSchema = z
  .object({
    plan: z.array(planStepSchema).meta({
      description:
        'The steps in order. Empty: nobody is free; the PBX plays its own fallback (voicemail, queue).',
    }),
  })
  .meta({
    examples: [
      { plan: [{ extensions: ['101', '102', '103'], timeoutSec: 20 }] },
      {
        plan: [
          { extensions: ['101'], timeoutSec: 5 },
          { extensions: ['102'], timeoutSec: 5 },
          { extensions: ['103'], timeoutSec: 5 },
        ],
      },
    ],
  });

export type RouteResponse = z.output<typeof routeResponseSchema>;

/** A parsed JSON body of `POST /pbx/v1/route`, as the engine's `route.requested` input. */
export function parseRouteRequest(body: unknown): Parsed<RouteRequested> {
  if (!isRecord(body))
    return refuse(
      problem(
        'INVALID_BODY',
        '',
        `body: expected an object {callId, from, to, line?}, got ${jsonTypeOf(body)}`,
      ),
    );
  const result = routeRequestSchema.safeParse(body);
  if (!result.success) return refuseAll(problemsOf(result.error.issues, body));
  const { callId, from, to, line } = result.data;
  return ok({ type: 'route.requested', callId, from, to, ...(line == null ? {} : { line }) });
}

export function parseRouteBody(
  raw: string | Uint8Array,
  maxBytes = DEFAULT_MAX_BODY_BYTES,
): Parsed<RouteRequested> {
  const json = parseJsonBody(raw, maxBytes);
  return json.ok ? parseRouteRequest(json.value) : json;
}

/** The answer to the PBX: the engine's plan, in the API's shape. */
export function routeResponse(plan: readonly PlanStep[]): RouteResponse {
  return { plan: plan.map((step) => ({ extensions: [...step.extensions], timeoutSec: step.timeoutSec })) };
}
