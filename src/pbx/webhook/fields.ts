/**
 * The field schemas the PBX API is made of. Each carries the sentence a refused request reads
 * ("expected …"), so the messages say what the API wants, not how zod words a failure.
 */
import { z } from 'zod';
import { EXTENSION, PHONE_NUMBER } from '../numbers.ts';

/** A non-empty string of at most `max` characters; `expected` is what the error message says. */
function text(expected: string, max: number): z.ZodString {
  return z
    .string({ error: expected })
    .min(1, { error: expected })
    .max(max, { error: `${expected}, at most ${max} characters` });
}

export const callId = text('expected the PBX call id, a non-empty string', 200).meta({
  description: "The PBX's own id of the call; every event of one call carries the same one.",
  examples: ['1773130000.42'],
});

const phoneRule = 'expected a phone number of digits with an optional leading "+" (and "*", "#"), at most 32';

/**
 * A caller's number: phone-shaped, or an extension (the caller of an outbound call). It may be
 * empty: a withheld number still makes a call, and refusing the event would lose it.
 */
export const phoneNumber = z
  .string({ error: 'expected a phone number as a string' })
  .refine((s) => s === '' || PHONE_NUMBER.test(s) || EXTENSION.test(s), { error: phoneRule });

/** A dialled number: phone-shaped, or an extension. */
export const dialledNumber = z
  .string({ error: 'expected a phone number or an extension, a non-empty string' })
  .refine((s) => PHONE_NUMBER.test(s) || EXTENSION.test(s), {
    error: `${phoneRule}, or an extension like "101"`,
  });

export const extension = z
  .string({ error: 'expected an extension as a string, like "101"' })
  .regex(EXTENSION, { error: 'expected an extension like "101"' })
  .meta({ description: 'An internal number (extension) on the PBX.', examples: ['101'] });

export const extensions = z
  .array(extension, { error: 'expected a list of extensions, like ["101", "102"]' })
  .max(1000, { error: 'expected at most 1000 extensions' });

export const line = text('expected a line id or number, a non-empty string', 64).meta({
  description: "The PBX line (trunk, DID) the call came in on; picks the line's routing in the bridge.",
  examples: ['+74950000001'],
});

export const isoInstant = z.iso
  .datetime({
    offset: true,
    error: 'expected an ISO 8601 date-time with seconds and a time zone, like "2026-03-10T12:00:00Z"',
  })
  .meta({
    description: 'When it happened on the PBX. Default: when the bridge received it.',
    examples: ['2026-03-10T12:00:00.250+03:00'],
  });

export const httpUrl = z
  .url({ protocol: /^https?$/, error: 'expected an http or https URL' })
  .max(2048, { error: 'expected a URL of at most 2048 characters' });

const fileNameRule = 'expected a file name of 1 to 255 characters without folders, like "call-42.mp3"';

/** No folders (the name becomes part of a stored path) and no control characters (it reaches logs). */
export const filename = z
  .string({ error: 'expected a file name as a string' })
  .min(1, { error: fileNameRule })
  .max(255, { error: fileNameRule })
  .refine(plainFileName, { error: fileNameRule });

function plainFileName(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 0x20 || c === 0x2f /* / */ || c === 0x5c /* \ */) return false;
  }
  return true;
}

export const commandId = text('expected a command id, a non-empty string', 300);
