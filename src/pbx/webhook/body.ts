/** Raw request bodies: the size limit first (before any work), then UTF-8, then JSON. */
import { ok, PbxApiError, problem, refuse, type Parsed } from './errors.ts';

/** 1 MiB, fastify's default body limit, so the server and the parser agree on "too large". */
export const DEFAULT_MAX_BODY_BYTES = 1_048_576;

const decoder = new TextDecoder('utf-8', { fatal: true });
const encoder = new TextEncoder();

function byteLength(text: string, limit: number): number {
  // A string of more than `limit` UTF-16 units is over the limit in UTF-8 too; no need to encode it.
  return text.length > limit ? text.length : encoder.encode(text).length;
}

/** Parses a body as received: a string or the raw bytes. */
export function parseJsonBody(raw: string | Uint8Array, maxBytes = DEFAULT_MAX_BODY_BYTES): Parsed<unknown> {
  const size = typeof raw === 'string' ? byteLength(raw, maxBytes) : raw.byteLength;
  if (size > maxBytes)
    return refuse(problem('BODY_TOO_LARGE', '', `the body is over the limit of ${maxBytes} bytes`));
  let text: string;
  if (typeof raw === 'string') text = raw;
  else {
    try {
      text = decoder.decode(raw);
    } catch {
      return refuse(problem('MALFORMED_JSON', '', 'the body is not valid UTF-8'));
    }
  }
  try {
    return ok(JSON.parse(text) as unknown);
  } catch (cause) {
    // Only the position from V8's message: the rest may quote the body back.
    const position = cause instanceof Error ? /position (\d+)/.exec(cause.message)?.[1] : undefined;
    const where = position === undefined ? '' : ` (at position ${position})`;
    return {
      ok: false,
      error: new PbxApiError([problem('MALFORMED_JSON', '', `the body is not valid JSON${where}`)], {
        cause,
      }),
    };
  }
}
