import { batchCommand, type RefResolver } from './encode.ts';
import { portalError, type BitrixError } from './errors.ts';
import { obj } from './parse.ts';
import type { Operation } from './queue.ts';
import type { Envelope } from './transport.ts';

/**
 * The `batch` method's two ends (spec §1.7): the `cmd` map going out, and the per-command outcomes
 * coming back from its sections.
 */

/** `cmd`: one `method?query` per operation, keyed by the operation's own key. */
export function batchCommands(ops: readonly Operation[], resolve: RefResolver): Record<string, string> {
  const cmd: Record<string, string> = {};
  for (const op of ops) cmd[op.key] = batchCommand(op.method, op.command.params, resolve);
  return cmd;
}

type CommandOutcome =
  | { kind: 'done'; envelope: Envelope; time: Record<string, unknown> }
  | { kind: 'error'; error: BitrixError }
  /** Neither a result nor an error: the batch halted before this command. */
  | { kind: 'not-run' };

/**
 * Reads the sections of a batch answer. Empty sections come as `[]` (PHP), keys are ours (`o17`),
 * never numeric, so every non-empty section is an object.
 */
export function readBatch(
  envelope: Envelope,
  ops: readonly Operation[],
  memberId: string,
): Map<Operation, CommandOutcome> {
  const body = obj(envelope.result);
  const results = obj(body.result);
  const errors = obj(body.result_error);
  const totals = obj(body.result_total);
  const nexts = obj(body.result_next);
  const times = obj(body.result_time);
  const out = new Map<Operation, CommandOutcome>();
  for (const op of ops) {
    const key = op.key;
    if (key in results) {
      out.set(op, {
        kind: 'done',
        envelope: {
          result: results[key],
          total: numberOrUndefined(totals[key]),
          next: numberOrUndefined(nexts[key]),
        },
        time: obj(times[key]),
      });
    } else if (key in errors) {
      const e = obj(errors[key]);
      const error = portalError(
        op.method,
        {
          error: typeof e.error === 'string' ? e.error : '',
          error_description: typeof e.error_description === 'string' ? e.error_description : undefined,
        },
        undefined,
        memberId,
      );
      out.set(op, { kind: 'error', error });
    } else {
      out.set(op, { kind: 'not-run' });
    }
  }
  return out;
}

const numberOrUndefined = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);
