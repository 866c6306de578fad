/**
 * The HTTP vocabulary shared by every room that answers requests (the server's routes, the
 * Bitrix24 application, the admin UI): the typed error they throw, the strict form parser
 * Bitrix24's bodies need, content negotiation and a portal's origin. It imports nothing.
 */
export { ServerError } from './errors.ts';
export { parseNestedForm, FormError, type FormObject, type FormValue } from './form.ts';
export { prefersText } from './accept.ts';
export { originOf } from './origin.ts';
export { checked, type Refusal } from './checked.ts';
