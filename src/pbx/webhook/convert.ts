/**
 * The API's events as the engine's inputs: ISO `at` becomes epoch ms (the arrival time when the PBX
 * gave none), nulls become absent, and an inline recording is stored first and passed on only as a
 * `contentRef`: the engine's state is kept and replayed, and must never hold the bytes.
 */
import type { PbxEvent } from '../types.ts';
import { PbxApiError, problem } from './errors.ts';
import type { ApiEvent } from './events.ts';

export interface RecordingUpload {
  readonly callId: string;
  readonly filename: string | undefined;
  readonly content: Uint8Array;
}

/** Stores a recording's bytes (a file, a blob table) and answers the reference the outbox uploads from. */
export type StoreRecording = (upload: RecordingUpload) => Promise<string>;

interface ConversionContext {
  /** Epoch ms at which the request arrived: the `at` of events that carry none. */
  readonly receivedAt: number;
  readonly storeRecording: StoreRecording;
}

/** Epoch ms of an ISO date-time the parser accepted; sub-millisecond digits are dropped. */
function epochMsOf(iso: string): number {
  return Date.parse(iso);
}

/** One event without an inline recording; `contentRef` is what storing its recording answered. */
export function toEngineEvent(event: ApiEvent, receivedAt: number, contentRef?: string): PbxEvent {
  const at = event.at == null ? receivedAt : epochMsOf(event.at);
  const { callId } = event;
  switch (event.type) {
    case 'call.started':
      return {
        type: event.type,
        callId,
        at,
        direction: event.direction,
        from: event.from,
        to: event.to,
        ...(event.line == null ? {} : { line: event.line }),
      };
    case 'call.ringing':
    case 'call.ring_stopped':
      return { type: event.type, callId, at, extensions: event.extensions };
    case 'call.answered':
      return { type: event.type, callId, at, extension: event.extension };
    case 'call.transferred':
      return { type: event.type, callId, at, to: event.to };
    case 'call.ended':
      return { type: event.type, callId, at, ...(event.reason == null ? {} : { reason: event.reason }) };
    case 'recording.ready':
      return {
        type: event.type,
        callId,
        at,
        ...(event.url == null ? {} : { url: event.url }),
        ...(contentRef === undefined ? {} : { contentRef }),
        ...(event.filename == null ? {} : { filename: event.filename }),
      };
  }
}

/**
 * A whole batch. The recordings are stored first, one after the other; if one cannot be stored the
 * batch is refused whole (`RECORDING_NOT_STORED`, answered 503 so the PBX repeats it). Recordings
 * already stored by then are orphans, never referenced by any event: harmless, and swept with the
 * store's unreferenced blobs.
 */
export async function toEngineEvents(
  events: readonly ApiEvent[],
  context: ConversionContext,
): Promise<PbxEvent[]> {
  const out: PbxEvent[] = [];
  for (const [index, event] of events.entries()) {
    if (event.type !== 'recording.ready' || event.contentBase64 == null) {
      out.push(toEngineEvent(event, context.receivedAt));
      continue;
    }
    const upload: RecordingUpload = {
      callId: event.callId,
      filename: event.filename ?? undefined,
      content: Buffer.from(event.contentBase64, 'base64'),
    };
    let contentRef: string;
    try {
      contentRef = await context.storeRecording(upload);
    } catch (cause) {
      // The index in the batch: a single-event body is a batch of one here.
      const path = `/${index}/contentBase64`;
      throw new PbxApiError(
        [
          problem(
            'RECORDING_NOT_STORED',
            path,
            `${path}: the recording could not be stored; repeat the request`,
          ),
        ],
        {
          cause,
        },
      );
    }
    out.push(toEngineEvent(event, context.receivedAt, contentRef));
  }
  return out;
}
