/**
 * The generic PBX API (`/pbx/v1`), framework-free: request bodies and parameters in, typed values
 * or a typed `PbxApiError` out (never a throw), the conversion to the engine's inputs, the bearer
 * token check, and the OpenAPI document. The HTTP server wires these to routes.
 */
export {
  httpStatusOf,
  PbxApiError,
  pbxApiErrorCodes,
  type Parsed,
  type PbxApiErrorCode,
  type Problem,
  type ProblemLocation,
} from './errors.ts';
export { DEFAULT_MAX_BODY_BYTES, parseJsonBody } from './body.ts';
export {
  DEFAULT_MAX_EVENTS,
  DEFAULT_MAX_RECORDING_BYTES,
  endReasons,
  eventSchemas,
  eventTypes,
  parseEvents,
  parseEventsBody,
  type ApiEvent,
  type ApiEventType,
  type EventLimits,
} from './events.ts';
export {
  epochMsOf,
  toEngineEvent,
  toEngineEvents,
  type ConversionContext,
  type RecordingUpload,
  type StoreRecording,
} from './convert.ts';
export {
  parseRouteBody,
  parseRouteForm,
  routeDialString,
  parseRouteRequest,
  routeRequestSchema,
  routeResponse,
  routeResponseSchema,
  type RouteResponse,
} from './route.ts';
export {
  commandAckSchema,
  commandSchema,
  parseCommandAck,
  parseCommandId,
  parseCommandsQuery,
  wireCommand,
  type CommandAck,
  type CommandsQuery,
} from './commands.ts';
export { authenticatePbx, type PbxCredential } from './auth.ts';
export { componentNameOf, pbxOpenApiDocument, type OpenApiOptions } from './openapi.ts';
