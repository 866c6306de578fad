/**
 * `POST /pbx/v1/events`: one event or an array of them. A batch is accepted whole or refused whole
 * (nothing half-applied), so every event is checked before any is handed on.
 *
 * Unknown fields are ignored, so a PBX may send more than this version reads. Optional fields may
 * be null: many JSON encoders write absent values that way.
 */
import { z } from 'zod';
import type { PbxEventType } from '../types.ts';
import { DEFAULT_MAX_BODY_BYTES, parseJsonBody } from './body.ts';
import { ok, problem, refuseAll, type Parsed, type Problem } from './errors.ts';
import * as field from './fields.ts';
import { isRecord, jsonTypeOf, pointer, problemsOf } from './issues.ts';

const base = {
  callId: field.callId,
  at: field.isoInstant.nullish(),
};

const callStarted = z
  .object({
    type: z.literal('call.started'),
    ...base,
    direction: z.enum(['inbound', 'outbound'], { error: 'expected "inbound" or "outbound"' }),
    from: field.phoneNumber.meta({ description: 'Who calls; may be empty for a withheld number.' }),
    to: field.dialledNumber.meta({ description: 'The number or extension dialled.' }),
    line: field.line.nullish(),
  })
  .meta({
    description: 'A call began on the PBX: an inbound call arrived, or an extension dialled out.',
    examples: [
      {
        type: 'call.started',
        callId: '1773130000.42',
        direction: 'inbound',
        from: '+79161234567',
        to: '+74950000001',
        line: '+74950000001',
        at: '2026-03-10T12:00:00Z',
      },
    ],
  });

const callRinging = z
  .object({ type: z.literal('call.ringing'), ...base, extensions: field.extensions })
  .meta({
    description: 'These extensions started ringing for the call.',
    examples: [{ type: 'call.ringing', callId: '1773130000.42', extensions: ['101', '102', '103'] }],
  });

const callRingStopped = z
  .object({ type: z.literal('call.ring_stopped'), ...base, extensions: field.extensions })
  .meta({
    description: 'These extensions stopped ringing without answering.',
    examples: [{ type: 'call.ring_stopped', callId: '1773130000.42', extensions: ['102', '103'] }],
  });

const callAnswered = z
  .object({ type: z.literal('call.answered'), ...base, extension: field.extension })
  .meta({
    description: 'The extension answered the call.',
    examples: [
      { type: 'call.answered', callId: '1773130000.42', extension: '101', at: '2026-03-10T12:00:07Z' },
    ],
  });

const callTransferred = z
  .object({
    type: z.literal('call.transferred'),
    ...base,
    to: field.dialledNumber.meta({ description: 'The extension (or number) the call moved to.' }),
  })
  .meta({
    description: 'The call was transferred.',
    examples: [{ type: 'call.transferred', callId: '1773130000.42', to: '102' }],
  });

const endReasons = ['completed', 'no_answer', 'busy', 'failed', 'cancelled'] as const;

const callEnded = z
  .object({
    type: z.literal('call.ended'),
    ...base,
    reason: z
      .enum(endReasons, { error: `expected one of ${endReasons.map((r) => `"${r}"`).join(', ')}` })
      .nullish(),
  })
  .meta({
    description: 'The call is over (hang-up). Without `reason`, the bridge infers it from the call.',
    examples: [
      { type: 'call.ended', callId: '1773130000.42', reason: 'completed', at: '2026-03-10T12:02:07Z' },
    ],
  });

const recordingReady = z
  .object({
    type: z.literal('recording.ready'),
    ...base,
    url: field.httpUrl.nullish().meta({ description: 'Where the bridge (and Bitrix24) can fetch the file.' }),
    contentBase64: z.string({ error: 'expected the recording as a base64 string' }).nullish().meta({
      description: 'The file itself, base64; the whole body stays under 1 MiB.',
      contentEncoding: 'base64',
    }),
    filename: field.filename.nullish().meta({ description: 'Bitrix24 accepts .mp3 and .wav names.' }),
  })
  .meta({
    description: "The call's recording is complete: give `url` or `contentBase64`, one of them.",
    examples: [
      {
        type: 'recording.ready',
        callId: '1773130000.42',
        url: 'https://pbx.example.com/recordings/1773130000.42.mp3',
      },
      {
        type: 'recording.ready',
        callId: '1773130000.42',
        contentBase64: 'SUQzBAAAAAAAI1RTU0UAAAAPAAADTGF2ZjU4Ljc2LjEwMAAAAAAAAAAAAAAA',
        filename: 'call-42.mp3',
      },
    ],
  });

/** Each event type of the API and its schema: the one source the parser and the OpenAPI document share. */
export const eventSchemas = {
  'call.started': callStarted,
  'call.ringing': callRinging,
  'call.ring_stopped': callRingStopped,
  'call.answered': callAnswered,
  'call.transferred': callTransferred,
  'call.ended': callEnded,
  'recording.ready': recordingReady,
} as const satisfies Record<PbxEventType, z.ZodType>;

export type ApiEventType = keyof typeof eventSchemas;
export const eventTypes = Object.keys(eventSchemas) as ApiEventType[];

/** An event as the API received it: `at` still ISO text, a recording maybe still inline. */
export type ApiEvent = { [T in ApiEventType]: z.output<(typeof eventSchemas)[T]> }[ApiEventType];

interface EventLimits {
  /** Bytes of a raw body. Default 1 MiB. */
  readonly maxBodyBytes?: number;
  /** Events in one batch. Default 1000. */
  readonly maxEvents?: number;
  /** Decoded bytes of one `contentBase64` recording. Default 768 KiB (what fits in a 1 MiB body). */
  readonly maxRecordingBytes?: number;
}

const DEFAULT_MAX_EVENTS = 1000;
const DEFAULT_MAX_RECORDING_BYTES = 768 * 1024;

/** A refused request lists this many problems at most: enough to fix a PBX integration in one go. */
const MAX_PROBLEMS = 20;

const base64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Bytes that a valid base64 text decodes to. */
function decodedSize(b64: string): number {
  const padding = b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0;
  return (b64.length / 4) * 3 - padding;
}

/** What a schema cannot say: one source of the recording, base64 well-formed, under the size cap. */
function recordingProblems(
  event: z.output<typeof recordingReady>,
  prefix: readonly PropertyKey[],
  maxBytes: number,
): Problem[] {
  const content = event.contentBase64 ?? null;
  const url = event.url ?? null;
  const at = (key: string) => pointer([...prefix, key]);
  if (content === null && url === null)
    return [problem('MISSING_FIELD', at('url'), `${at('url')} is required: give url or contentBase64`)];
  if (content !== null && url !== null)
    return [
      problem(
        'INVALID_VALUE',
        at('contentBase64'),
        `${at('contentBase64')}: give url or contentBase64, not both`,
      ),
    ];
  if (content === null) return [];
  // The size first: it is arithmetic, and spares the pattern a text that is refused anyway.
  if (content.length % 4 === 0 && decodedSize(content) > maxBytes)
    return [
      problem(
        'RECORDING_TOO_LARGE',
        at('contentBase64'),
        `${at('contentBase64')}: the recording is over the limit of ${maxBytes} bytes; give a url instead`,
      ),
    ];
  if (content.length === 0 || !base64.test(content))
    return [
      problem(
        'INVALID_VALUE',
        at('contentBase64'),
        `${at('contentBase64')}: expected non-empty standard base64 (A–Z, a–z, 0–9, +, /, = padding, no line breaks)`,
      ),
    ];
  return [];
}

/** One event, or what is wrong with it. */
function parseOne(
  value: unknown,
  prefix: readonly PropertyKey[],
  limits: Required<EventLimits>,
): ApiEvent | Problem[] {
  const here = pointer(prefix);
  if (!isRecord(value))
    return [
      problem(
        'WRONG_TYPE',
        here,
        `${here === '' ? 'body' : here}: expected an event object, got ${jsonTypeOf(value)}`,
      ),
    ];
  const typePath = pointer([...prefix, 'type']);
  if (!Object.hasOwn(value, 'type'))
    return [
      problem('MISSING_FIELD', typePath, `${typePath} is required: the event type, like "call.started"`),
    ];
  const type = value.type;
  if (typeof type !== 'string')
    return [
      problem(
        'WRONG_TYPE',
        typePath,
        `${typePath}: expected the event type as a string, got ${jsonTypeOf(type)}`,
      ),
    ];
  if (!Object.hasOwn(eventSchemas, type)) {
    const shown = JSON.stringify(type.slice(0, 40));
    return [
      problem(
        'UNKNOWN_EVENT_TYPE',
        typePath,
        `${typePath}: unknown event type ${shown}; expected one of ${eventTypes.join(', ')}`,
      ),
    ];
  }
  const schema: z.ZodType<ApiEvent> = eventSchemas[type as ApiEventType];
  const result = schema.safeParse(value);
  if (!result.success) return problemsOf(result.error.issues, value, prefix);
  const event = result.data;
  if (event.type === 'recording.ready') {
    const problems = recordingProblems(event, prefix, limits.maxRecordingBytes);
    if (problems.length > 0) return problems;
  }
  return event;
}

/**
 * Checks a parsed JSON body of `POST /pbx/v1/events`. Always an array back (a single event becomes
 * one of one); an empty array is a valid, empty batch.
 */
export function parseEvents(body: unknown, limits: EventLimits = {}): Parsed<ApiEvent[]> {
  const all: Required<EventLimits> = {
    maxBodyBytes: limits.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    maxEvents: limits.maxEvents ?? DEFAULT_MAX_EVENTS,
    maxRecordingBytes: limits.maxRecordingBytes ?? DEFAULT_MAX_RECORDING_BYTES,
  };
  if (!Array.isArray(body) && !isRecord(body))
    return refuseAll([
      problem(
        'INVALID_BODY',
        '',
        `body: expected an event object or an array of events, got ${jsonTypeOf(body)}`,
      ),
    ]);
  if (!Array.isArray(body)) {
    const one = parseOne(body, [], all);
    return Array.isArray(one) ? refuseAll(one) : ok([one]);
  }
  if (body.length > all.maxEvents)
    return refuseAll([
      problem('TOO_MANY_EVENTS', '', `body: ${body.length} events in one batch; at most ${all.maxEvents}`),
    ]);
  const events: ApiEvent[] = [];
  const problems: Problem[] = [];
  body.forEach((value: unknown, index) => {
    if (problems.length >= MAX_PROBLEMS) return;
    const one = parseOne(value, [index], all);
    if (Array.isArray(one)) problems.push(...one);
    else events.push(one);
  });
  return problems.length > 0 ? refuseAll(problems) : ok(events);
}

/** The raw body of `POST /pbx/v1/events`: size, UTF-8 and JSON, then `parseEvents`. */
export function parseEventsBody(raw: string | Uint8Array, limits: EventLimits = {}): Parsed<ApiEvent[]> {
  const json = parseJsonBody(raw, limits.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES);
  return json.ok ? parseEvents(json.value, limits) : json;
}
