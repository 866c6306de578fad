/**
 * Request data (params, query, body) checked against its schema at the edge, so handlers get
 * typed values rather than casts. A mismatch is the given refusal, naming the first field it
 * refused and never the value (which may be a secret or an attacker's markup).
 */
import type { z } from 'zod';
import { ServerError } from './errors.ts';

export interface Refusal {
  code: string;
  status: number;
  message: string;
}

export function checked<S extends z.ZodType>(schema: S, value: unknown, refusal: Refusal): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const field = result.error.issues[0]?.path.join('.') ?? '';
  const message = field === '' ? refusal.message : `${refusal.message} (${field})`;
  throw new ServerError(refusal.code, refusal.status, message, { cause: result.error });
}
