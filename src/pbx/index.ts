/**
 * The PBX side: the normalized event and command unions, the adapter interface every PBX adapter
 * implements, and the generic HTTP API's request handling (`./webhook/index.ts`).
 */
export type * from './types.ts';
export { PbxError } from './errors.ts';
export { commandOf } from './commands.ts';
