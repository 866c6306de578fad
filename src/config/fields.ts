/**
 * The field schemas the configuration is made of, each with the sentence an operator reads when
 * the value is wrong. No message quotes the value: it may be a secret.
 */
import { z } from 'zod';

/** Marks a value a logger must never print; `secretPaths` is derived from these marks. */
export function secret<T extends z.ZodType>(schema: T): T {
  return schema.meta({ secret: true });
}

/** YAML reads `101` and `+74950000001` as numbers: a number where text belongs says to quote it. */
const quoteIt = (expected: string) => (issue: { input?: unknown }) =>
  typeof issue.input === 'number' ? `${expected}, as text: quote it ("…") in YAML` : expected;

export const extension = z
  .string({ error: quoteIt('expected an extension like "101"') })
  .regex(/^[0-9A-Za-z*#+_.-]{1,32}$/, { error: 'expected an extension like "101"' });

export const userId = z
  .number({ error: 'expected a Bitrix24 user id, a whole number like 1' })
  .int({ error: 'expected a Bitrix24 user id, a whole number like 1' })
  .positive({ error: 'expected a Bitrix24 user id, a whole number like 1' });

export function seconds(max = 7 * 24 * 3600) {
  const expected = `expected a number of seconds from 0 to ${max}`;
  return z.number({ error: expected }).min(0, { error: expected }).max(max, { error: expected });
}

export function name(expected: string, max = 100) {
  return z
    .string({ error: expected })
    .min(1, { error: expected })
    .max(max, { error: `${expected}, at most ${max} characters` });
}

export const id = z
  .string({ error: 'expected an id of letters, digits, "-" and "_", like "sales"' })
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$/, {
    error: 'expected an id of letters, digits, "-" and "_", like "sales"',
  });

export const phone = z
  .string({ error: quoteIt('expected a phone number like "+74950000001"') })
  .min(1, { error: 'expected a phone number like "+74950000001"' })
  .max(64, { error: 'expected a phone number like "+74950000001", at most 64 characters' });

export function httpUrl(what: string) {
  return z.url({ protocol: /^https?$/, error: `expected ${what}, an http or https URL` });
}

/** Tokens and passwords: long enough that guessing is not a plan. */
export const token = z
  .string({ error: 'expected a secret string of at least 8 characters' })
  .min(8, { error: 'expected a secret string of at least 8 characters' })
  .max(500, { error: 'expected a secret string of at most 500 characters' });

export const port = z
  .number({ error: 'expected a port number from 1 to 65535' })
  .int({ error: 'expected a port number from 1 to 65535' })
  .min(1, { error: 'expected a port number from 1 to 65535' })
  .max(65535, { error: 'expected a port number from 1 to 65535' });
