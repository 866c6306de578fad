/**
 * The Asterisk adapter over AMI: our own AMI client (`client.ts`), the pure event mapper
 * (`mapper.ts`), recordings, and the adapter that joins them to the bridge (`adapter.ts`).
 */
export { AsteriskAdapter, type AsteriskAdapterOptions } from './adapter.ts';
export { AmiClient } from './client.ts';
export { AmiError } from './errors.ts';
export { field, type AmiFrame } from './frames.ts';
