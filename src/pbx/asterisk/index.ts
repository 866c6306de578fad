/**
 * The Asterisk adapter over AMI: our own AMI client (`client.ts`), the pure event mapper
 * (`mapper.ts`), recordings, and the adapter that joins them to the bridge (`adapter.ts`).
 */
export {
  AsteriskAdapter,
  type AmiSettings,
  type AsteriskAdapterEvents,
  type AsteriskAdapterOptions,
} from './adapter.ts';
export {
  AmiClient,
  defaultReconnectPolicy,
  type AmiClientEvents,
  type AmiClientOptions,
  type AmiResult,
} from './client.ts';
export { defaultDevicePatterns, deviceMap, deviceOf, type DeviceMap } from './devices.ts';
export { AmiError, amiErrorCodes, type AmiErrorCode } from './errors.ts';
export { AmiParser, encodeAction, field, fields, parseAll, type AmiFrame } from './frames.ts';
export {
  AmiCallMapper,
  type AmiMode,
  type ExpectedOriginate,
  type MappedEvent,
  type MapperOptions,
  type RecordingFinished,
} from './mapper.ts';
export { recordingPath, recordingReady, type RecordingOptions, type RecordingSource } from './recordings.ts';
export { measureAmiThroughput, type AmiThroughput } from './bench.ts';
