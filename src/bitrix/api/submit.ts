import type { BitrixError } from '../errors.ts';
import type { Command } from '../methods.ts';
import type { Pending } from '../pending.ts';
import type { RawResult, SubmitOptions } from '../queue.ts';

/** How the typed methods hand a command to one portal's queue. */
export type Submit = <T>(
  command: Command,
  options: SubmitOptions | undefined,
  parse: (raw: RawResult) => T,
  onError?: (e: BitrixError) => T,
) => Pending<T>;
