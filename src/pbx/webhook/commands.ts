/**
 * Commands for the PBX: POSTed to its command URL, or fetched by the PBX with the long poll
 * `GET /pbx/v1/commands` when it cannot receive webhooks, and acknowledged with
 * `POST /pbx/v1/commands/{commandId}/ack`.
 */
import { z } from 'zod';
import type { PbxCommand } from '../types.ts';
import { ok, problem, refuse, refuseAll, type Parsed } from './errors.ts';
import * as field from './fields.ts';
import { isRecord, jsonTypeOf, problemsOf } from './issues.ts';

export const commandSchema = z
  .object({
    commandId: field.commandId.meta({
      description: 'Stable across repeats: a command seen before is not carried out twice.',
    }),
    type: z.enum(['originate', 'transfer']).meta({
      description:
        'originate: ring `extension`, then dial `number`, and report the call under `callId`; transfer: move call `callId` to `extension`.',
    }),
    callId: field.callId,
    extension: field.extension,
    number: field.dialledNumber.optional().meta({ description: 'originate only: the number to dial.' }),
  })
  .meta({
    description: 'Something the bridge asks the PBX to do.',
    examples: [
      {
        commandId: '1773130000.42@1773130000000:7',
        type: 'transfer',
        callId: '1773130000.42',
        extension: '102',
      },
      {
        commandId: 'c2c-9f2@1773130100000:1',
        type: 'originate',
        callId: 'c2c-9f2',
        extension: '101',
        number: '+79161234567',
      },
    ],
  });

/** A command on the wire; the adapter's union, with `number` only on originate. */
export function wireCommand(command: PbxCommand): z.output<typeof commandSchema> {
  return { ...command };
}

/** The `{commandId}` path parameter. */
export function parseCommandId(param: unknown): Parsed<string> {
  const result = field.commandId.safeParse(param);
  if (result.success) return ok(result.data);
  return refuseAll(problemsOf(result.error.issues, param, ['commandId'], 'path'));
}

export const commandAckSchema = z
  .object({
    status: z.enum(['done', 'failed'], { error: 'expected "done" or "failed"' }).optional().meta({
      description: 'Whether the PBX carried the command out. Default "done".',
    }),
    reason: z
      .string({ error: 'expected a string' })
      .max(500, { error: 'expected at most 500 characters' })
      .optional(),
  })
  .meta({
    description: 'The body of an acknowledgement; may be empty.',
    examples: [{}, { status: 'failed', reason: 'extension 102 is offline' }],
  });

/** @public The simulator (its own workspace) reads acknowledgements with it. */
export interface CommandAck {
  readonly status: 'done' | 'failed';
  readonly reason?: string;
}

/** The ack body; `undefined` (no body) and `{}` both mean "done". */
export function parseCommandAck(body: unknown): Parsed<CommandAck> {
  if (body === undefined || body === null) return ok({ status: 'done' });
  if (!isRecord(body))
    return refuse(
      problem('INVALID_BODY', '', `body: expected an object {status?, reason?}, got ${jsonTypeOf(body)}`),
    );
  const result = commandAckSchema.safeParse(body);
  if (!result.success) return refuseAll(problemsOf(result.error.issues, body));
  const { status = 'done', reason } = result.data;
  return ok(reason === undefined ? { status } : { status, reason });
}

interface CommandsQuery {
  /** How long the long poll waits for a command before it answers `[]`. */
  readonly waitSec: number;
  /** At most this many commands in one answer. */
  readonly limit: number;
}

export const DEFAULT_WAIT_SEC = 25;
/** Under the 30 s idle timeout of common proxies, so a held poll is not cut. */
export const MAX_WAIT_SEC = 28;
export const DEFAULT_COMMAND_LIMIT = 50;

const queryInt = (name: string, min: number, max: number) =>
  z
    .string({ error: `expected a whole number ${min}–${max}` })
    .regex(/^\d{1,6}$/, { error: `expected a whole number ${min}–${max}` })
    .transform(Number)
    .pipe(
      z
        .number()
        .min(min, { error: `${name} must be ${min}–${max}` })
        .max(max, { error: `${name} must be ${min}–${max}` }),
    );

const commandsQuerySchema = z.object({
  wait: queryInt('wait', 0, MAX_WAIT_SEC).optional(),
  limit: queryInt('limit', 1, 100).optional(),
});

/** The query of `GET /pbx/v1/commands` (`?wait=25&limit=50`), as the server's router gives it. */
export function parseCommandsQuery(query: unknown): Parsed<CommandsQuery> {
  const result = commandsQuerySchema.safeParse(query);
  if (!result.success) return refuseAll(problemsOf(result.error.issues, query, [], 'query'));
  return ok({
    waitSec: result.data.wait ?? DEFAULT_WAIT_SEC,
    limit: result.data.limit ?? DEFAULT_COMMAND_LIMIT,
  });
}
