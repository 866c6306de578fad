/**
 * `POST /pbx/v1/route`: the PBX asks what to ring for a new call and dials the plan it is given,
 * step by step: one step with many extensions rings them together, a step per member rings them in
 * turn.
 *
 * A PBX with nothing but its own HTTP function (Asterisk's `CURL()`) may ask in plain forms: the
 * request as a form (`callId=…&from=…&to=…`) and the answer as one line of text, the plan as an
 * Asterisk dial string (`routeDialString`), which the dialplan cuts into steps by itself.
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

const planStepSchema = z
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

type RouteResponse = z.output<typeof routeResponseSchema>;

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

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The fields of `POST /route` a form may carry; anything else in it is ignored, as in JSON. */
const formFields = ['callId', 'from', 'to', 'line'] as const;

/**
 * A form-encoded `POST /route` body (`application/x-www-form-urlencoded`): the same fields as the
 * JSON body, checked by the same schema. A field given twice is refused: which one is meant?
 */
export function parseRouteForm(
  raw: string | Uint8Array,
  maxBytes = DEFAULT_MAX_BODY_BYTES,
): Parsed<RouteRequested> {
  const size = typeof raw === 'string' ? Buffer.byteLength(raw) : raw.byteLength;
  if (size > maxBytes)
    return refuse(problem('BODY_TOO_LARGE', '', `the body is over the limit of ${maxBytes} bytes`));
  let text: string;
  try {
    text = typeof raw === 'string' ? raw : utf8.decode(raw);
  } catch {
    return refuse(problem('INVALID_BODY', '', 'the body is not valid UTF-8'));
  }
  const form = new URLSearchParams(text);
  const body: Record<string, string> = {};
  for (const name of formFields) {
    const values = form.getAll(name);
    if (values.length > 1)
      return refuse(problem('INVALID_VALUE', `/${name}`, `/${name}: given more than once`));
    const value = values[0];
    if (value !== undefined) body[name] = value;
  }
  return parseRouteRequest(body);
}

/**
 * The plan as an Asterisk dial string: its steps joined by `|`, each step's devices joined by `&`,
 * then `^` and the step's ring time: `PJSIP/101&PJSIP/102^20|PJSIP/103^5`. Empty for an empty plan
 * (nobody is free: the PBX plays its own fallback). Extensions never hold `&`, `|` or `^`.
 */
export function routeDialString(plan: readonly PlanStep[], device: (extension: string) => string): string {
  return plan
    .filter((step) => step.extensions.length > 0)
    .map((step) => `${step.extensions.map(device).join('&')}^${String(step.timeoutSec)}`)
    .join('|');
}

/** The answer to the PBX: the engine's plan, in the API's shape. */
export function routeResponse(plan: readonly PlanStep[]): RouteResponse {
  return { plan: plan.map((step) => ({ extensions: [...step.extensions], timeoutSec: step.timeoutSec })) };
}
