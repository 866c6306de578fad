/**
 * The generic PBX API (`/pbx/v1`), framework-free: request bodies and parameters in, typed values
 * or a typed `PbxApiError` out (never a throw), the conversion to the engine's inputs, the bearer
 * token check, and the OpenAPI document. The HTTP server wires these to routes.
 */
export { httpStatusOf, PbxApiError, pbxApiErrorCodes, type Parsed, type Problem } from './errors.ts';
export { DEFAULT_MAX_BODY_BYTES, parseJsonBody } from './body.ts';
export { eventTypes, parseEvents, parseEventsBody, type ApiEvent } from './events.ts';
export { toEngineEvent, toEngineEvents, type RecordingUpload, type StoreRecording } from './convert.ts';
export {
  parseRouteBody,
  parseRouteForm,
  routeDialString,
  parseRouteRequest,
  routeResponse,
  routeResponseSchema,
} from './route.ts';
export {
  commandSchema,
  parseCommandAck,
  /** @public */
  type CommandAck,
  parseCommandId,
  parseCommandsQuery,
  wireCommand,
} from './commands.ts';
export { authenticatePbx } from './auth.ts';
export { componentNameOf, pbxOpenApiDocument } from './openapi.ts';
