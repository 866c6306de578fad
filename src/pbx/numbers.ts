/**
 * What a phone number and an extension may look like where they enter the bridge (the PBX API,
 * Bitrix24's click-to-call and callback events): they go on to the PBX (to be dialled), the CRM
 * (as a number) and the live board (into HTML and an event stream), so anything else is refused
 * rather than cleaned up.
 */

/** Digits with an optional leading `+`, and `*`/`#` of feature codes: at most 32 characters. */
export const PHONE_NUMBER = /^\+?[0-9*#]{1,32}$/;

/** An internal number on the PBX (`101`, `alice`, `*97`). */
export const EXTENSION = /^[0-9A-Za-z*#+_.-]{1,32}$/;

export const isPhoneNumber = (s: string): boolean => PHONE_NUMBER.test(s);
