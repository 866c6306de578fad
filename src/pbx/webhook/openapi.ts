/**
 * The OpenAPI 3.1 description of `/pbx/v1`, served at `/pbx/v1/openapi.json`. The body schemas are
 * generated from the same zod schemas the parser uses, so the document cannot describe a field the
 * parser does not read; a test checks the event types and the examples both ways.
 */
import { z } from 'zod';
import {
  commandAckSchema,
  commandSchema,
  DEFAULT_COMMAND_LIMIT,
  DEFAULT_WAIT_SEC,
  MAX_WAIT_SEC,
} from './commands.ts';
import { pbxApiErrorCodes } from './errors.ts';
import { eventSchemas, eventTypes, type ApiEventType } from './events.ts';
import { routeRequestSchema, routeResponseSchema } from './route.ts';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

/** OpenAPI 3.1 schemas are JSON Schema 2020-12; the `$schema` line belongs to standalone documents only. */
function jsonSchemaOf(schema: z.ZodType): JsonObject {
  const generated = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' });
  const { $schema: _ignored, ...rest } = generated as JsonObject;
  return rest;
}

/** `call.ring_stopped` → `CallRingStopped`. */
export function componentNameOf(type: ApiEventType): string {
  return type
    .split(/[._]/)
    .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
    .join('');
}

const ref = (name: string): JsonObject => ({ $ref: `#/components/schemas/${name}` });

function errorResponse(description: string): JsonObject {
  return { description, content: { 'application/json': { schema: ref('Error') } } };
}

const problemSchema: JsonObject = {
  type: 'object',
  required: ['code', 'path', 'location', 'message'],
  properties: {
    code: { type: 'string', enum: [...pbxApiErrorCodes] },
    path: { type: 'string', description: 'JSON pointer into the body (or the parameter), e.g. `/0/callId`.' },
    location: { type: 'string', enum: ['body', 'path', 'query', 'header'] },
    message: { type: 'string' },
  },
};

interface OpenApiOptions {
  /** The bridge's public URL (`server.publicUrl`); the document is relative to its host without it. */
  readonly serverUrl?: string;
  readonly version?: string;
}

export function pbxOpenApiDocument(options: OpenApiOptions = {}): JsonObject {
  const eventComponents: JsonObject = {};
  const mapping: JsonObject = {};
  for (const type of eventTypes) {
    const name = componentNameOf(type);
    eventComponents[name] = jsonSchemaOf(eventSchemas[type]);
    mapping[type] = `#/components/schemas/${name}`;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'b24-bridge PBX API',
      version: options.version ?? '1',
      description:
        'How any PBX or cloud PBX talks to the bridge: it reports call events, asks where to route a call, and ' +
        'carries out commands (click-to-call, transfers). Every request carries `Authorization: Bearer <token>`, ' +
        'the token of that PBX in the bridge configuration. Bodies are JSON, at most 1 MiB.',
    },
    servers: [{ url: options.serverUrl ?? '/' }],
    security: [{ pbxToken: [] }],
    paths: {
      '/pbx/v1/events': {
        post: {
          operationId: 'postEvents',
          summary: 'Report one event or an array of them',
          description:
            'Answered 202 once the events are stored durably. A batch is accepted or refused whole; a repeated ' +
            'event is harmless, so a PBX repeats a request whose answer it did not get.',
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: { oneOf: [ref('PbxEvent'), { type: 'array', items: ref('PbxEvent') }] },
                examples: {
                  single: { value: { type: 'call.answered', callId: '1773130000.42', extension: '101' } },
                  batch: {
                    value: [
                      {
                        type: 'call.started',
                        callId: '1773130000.43',
                        direction: 'inbound',
                        from: '+79161234567',
                        to: '+74950000002',
                        at: '2026-03-10T12:00:00Z',
                      },
                      {
                        type: 'call.ringing',
                        callId: '1773130000.43',
                        extensions: ['101'],
                        at: '2026-03-10T12:00:01Z',
                      },
                      {
                        type: 'call.ended',
                        callId: '1773130000.43',
                        reason: 'no_answer',
                        at: '2026-03-10T12:00:06Z',
                      },
                    ],
                  },
                },
              },
            },
          },
          responses: {
            '202': {
              description: 'Stored.',
              content: {
                'application/json': {
                  schema: {
                    type: 'object',
                    required: ['accepted'],
                    properties: { accepted: { type: 'integer', minimum: 0 } },
                  },
                },
              },
            },
            '400': errorResponse('Malformed JSON, an unknown event type, a missing or wrong field.'),
            '401': errorResponse('Missing or wrong token.'),
            '409': errorResponse(
              'An inline recording for a call the bridge does not know (UNKNOWN_CALL): nothing was stored; ' +
                "send the call's events first, then repeat.",
            ),
            '413': errorResponse('The body, the batch or an inline recording is too large.'),
            '503': errorResponse('Not stored (e.g. a recording could not be saved); repeat the request.'),
          },
        },
      },
      '/pbx/v1/route': {
        post: {
          operationId: 'route',
          summary: 'Ask what to ring for a new call',
          description:
            'Answered within 300 ms, from the configuration when the portal is slow. The PBX rings the steps in order. ' +
            'A PBX that has only a dialplan HTTP function (Asterisk CURL()) may post the same fields as a form and ' +
            'ask for `Accept: text/plain`: the plan then comes as one Asterisk dial string, steps joined by `|`, ' +
            'devices of a step by `&`, each step ending in `^` and its ring time (an Asterisk PBX gets its first ' +
            '`devicePattern`, any other the bare extensions); empty when nobody is free. Errors then come as one ' +
            'line, `error CODE: message`.',
          requestBody: {
            required: true,
            content: {
              'application/json': { schema: ref('RouteRequest') },
              'application/x-www-form-urlencoded': { schema: ref('RouteRequest') },
            },
          },
          responses: {
            '200': {
              description: 'The plan.',
              content: {
                'application/json': { schema: ref('RouteResponse') },
                'text/plain': {
                  schema: {
                    type: 'string',
                    examples: ['PJSIP/101&PJSIP/102&PJSIP/103^20', 'PJSIP/101^5|PJSIP/102^5'],
                  },
                },
              },
            },
            '400': errorResponse('A missing or wrong field.'),
            '401': errorResponse('Missing or wrong token.'),
          },
        },
      },
      '/pbx/v1/commands': {
        get: {
          operationId: 'pollCommands',
          summary: 'Long poll for commands (for a PBX that cannot receive webhooks)',
          description:
            'Answers as soon as commands are waiting, or with `[]` after `wait` seconds. A command stays ' +
            'waiting until it is acknowledged, so a command whose answer was lost comes again.',
          parameters: [
            {
              name: 'wait',
              in: 'query',
              required: false,
              schema: { type: 'integer', minimum: 0, maximum: MAX_WAIT_SEC, default: DEFAULT_WAIT_SEC },
            },
            {
              name: 'limit',
              in: 'query',
              required: false,
              schema: { type: 'integer', minimum: 1, maximum: 100, default: DEFAULT_COMMAND_LIMIT },
            },
          ],
          responses: {
            '200': {
              description: 'Commands, oldest first; maybe none.',
              content: { 'application/json': { schema: { type: 'array', items: ref('PbxCommand') } } },
            },
            '400': errorResponse('A bad query parameter.'),
            '401': errorResponse('Missing or wrong token.'),
          },
        },
      },
      '/pbx/v1/commands/{commandId}/ack': {
        post: {
          operationId: 'ackCommand',
          summary: 'Acknowledge a command',
          description: 'Repeating an acknowledgement is harmless.',
          parameters: [
            {
              name: 'commandId',
              in: 'path',
              required: true,
              schema: { type: 'string', minLength: 1, maxLength: 300 },
            },
          ],
          requestBody: { required: false, content: { 'application/json': { schema: ref('CommandAck') } } },
          responses: {
            '204': { description: 'Acknowledged.' },
            '400': errorResponse('A bad command id or body.'),
            '401': errorResponse('Missing or wrong token.'),
            '404': errorResponse('No command of this id was sent to this PBX.'),
          },
        },
      },
      '/pbx/v1/openapi.json': {
        get: {
          operationId: 'openapi',
          summary: 'This document',
          security: [],
          responses: { '200': { description: 'OpenAPI 3.1', content: { 'application/json': {} } } },
        },
      },
    },
    components: {
      securitySchemes: { pbxToken: { type: 'http', scheme: 'bearer' } },
      schemas: {
        ...eventComponents,
        PbxEvent: {
          oneOf: eventTypes.map((type) => ref(componentNameOf(type))),
          discriminator: { propertyName: 'type', mapping },
        },
        RouteRequest: jsonSchemaOf(routeRequestSchema),
        RouteResponse: jsonSchemaOf(routeResponseSchema),
        PbxCommand: jsonSchemaOf(commandSchema),
        CommandAck: jsonSchemaOf(commandAckSchema),
        Error: {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              ...problemSchema,
              required: ['code', 'path', 'location', 'message', 'problems'],
              properties: {
                ...(problemSchema.properties as JsonObject),
                problems: { type: 'array', items: problemSchema },
              },
            },
          },
          examples: [
            {
              error: {
                code: 'MISSING_FIELD',
                path: '/0/callId',
                location: 'body',
                message: '/0/callId is required: expected the PBX call id, a non-empty string',
                problems: [
                  {
                    code: 'MISSING_FIELD',
                    path: '/0/callId',
                    location: 'body',
                    message: '/0/callId is required: expected the PBX call id, a non-empty string',
                  },
                ],
              },
            },
          ],
        },
      },
    },
  };
}
