/**
 * The fields of each Bitrix24 event the application acts on, as zod schemas: what the portal
 * sends is a form (strings and nested objects), so every field is read as trimmed text first and
 * then checked. A field that is absent or not text reads as "" (or null for a number), exactly
 * as the portal's own forms leave an empty field.
 */
import { z } from 'zod';
import { isPhoneNumber } from '../pbx/numbers.ts';

/** A form field as trimmed text; absent or nested reads as "". */
const text = z
  .unknown()
  .optional()
  .transform((v) => (typeof v === 'string' ? v.trim() : ''));

/** A positive whole number, or null. */
const positive = text.transform((s) => {
  const n = Number(s);
  return Number.isSafeInteger(n) && n > 0 ? n : null;
});

/** A number the PBX will dial: phone-shaped only (digits, an optional leading "+", "*", "#"). */
const phoneNumber = text.refine(isPhoneNumber, {
  error: 'must be a phone number (digits, an optional leading "+", "*", "#")',
});

/** The CRM record a click or callback is about, when it names one. */
const crmOf = (d: { CRM_ENTITY_TYPE: string; CRM_ENTITY_ID: number | null }) =>
  d.CRM_ENTITY_TYPE !== '' && d.CRM_ENTITY_ID !== null
    ? { crmEntityType: d.CRM_ENTITY_TYPE, crmEntityId: d.CRM_ENTITY_ID }
    : {};

/** ONEXTERNALCALLSTART: a user clicked a number; the portal has registered the call. */
export const clickToCallData = z
  .object({
    CALL_ID: text.pipe(z.string().regex(/^[\w.-]{1,100}$/)),
    USER_ID: positive.pipe(z.number()),
    PHONE_NUMBER: phoneNumber,
    CALL_LIST_ID: positive,
    LINE_NUMBER: text,
    CRM_ENTITY_TYPE: text,
    CRM_ENTITY_ID: positive,
  })
  .transform((d) => ({
    bitrixCallId: d.CALL_ID,
    userId: d.USER_ID,
    phoneNumber: d.PHONE_NUMBER,
    callListId: d.CALL_LIST_ID,
    lineNumber: d.LINE_NUMBER || null,
    ...crmOf(d),
  }));

/** ONEXTERNALCALLBACKSTART: a visitor asked to be called back (no CALL_ID of the portal's). */
export const callbackData = z
  .object({
    PHONE_NUMBER: phoneNumber,
    LINE_NUMBER: text,
    CRM_ENTITY_TYPE: text,
    CRM_ENTITY_ID: positive,
  })
  .transform((d) => ({ phoneNumber: d.PHONE_NUMBER, lineNumber: d.LINE_NUMBER || null, ...crmOf(d) }));

/** ONCRM{CONTACT,COMPANY,LEAD}{ADD,UPDATE,DELETE}: `data[FIELDS][ID]`. */
export const crmChangeData = z
  .object({ FIELDS: z.object({ ID: positive.pipe(z.number()) }) })
  .transform((d) => d.FIELDS.ID);
