/**
 * The AMI wire format: `Key: Value` lines ending in CRLF, a message ending with an empty line, and
 * a one-line banner before the first message. Parsing is incremental (TCP cuts anywhere, even
 * inside a UTF-8 character) and total: any byte sequence yields frames or nothing, never a throw.
 */
import { StringDecoder } from 'node:string_decoder';

/**
 * One AMI message. A key that occurs more than once (`ChanVariable`, `Variable`) keeps every
 * value, in order, as an array: the clients we replaced kept only the last and lost data.
 * Prototype-free, so a hostile key such as `__proto__` is just a key.
 */
export type AmiFrame = Readonly<Record<string, string | readonly string[]>>;

/** The first value of `key` (a repeated key's first occurrence), or undefined. */
export function field(frame: AmiFrame, key: string): string | undefined {
  const value = frame[key];
  return typeof value === 'string' ? value : value?.[0];
}

/** Caps that keep a peer that never sends an empty line from growing our memory without bound. */
const MAX_LINE_CHARS = 64 * 1024;
const MAX_FRAME_KEYS = 2_000;

export class AmiParser {
  /** The banner line (`Asterisk Call Manager/11.0.0`) once it has arrived. */
  banner: string | undefined;
  private readonly decoder = new StringDecoder('utf8');
  private pending = '';
  private frame: Record<string, string | string[]> = Object.create(null) as Record<string, string | string[]>;
  private keys = 0;
  private expectBanner: boolean;

  constructor(options: { banner?: boolean } = {}) {
    this.expectBanner = options.banner ?? true;
  }

  /** Feeds bytes; answers the frames they completed. */
  push(chunk: Buffer | string): AmiFrame[] {
    const text = typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    const out: AmiFrame[] = [];
    let data = this.pending === '' ? text : this.pending + text;
    let start = 0;
    for (;;) {
      const nl = data.indexOf('\n', start);
      if (nl < 0) break;
      const end = nl > start && data.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
      this.line(data, start, end, out);
      start = nl + 1;
    }
    data = start === 0 ? data : data.slice(start);
    // A line longer than any AMI line is garbage: drop it rather than buffer it forever.
    this.pending = data.length > MAX_LINE_CHARS ? '' : data;
    return out;
  }

  private line(data: string, start: number, end: number, out: AmiFrame[]): void {
    if (start === end) {
      if (this.keys > 0) {
        out.push(this.frame);
        this.frame = Object.create(null) as Record<string, string | string[]>;
        this.keys = 0;
      }
      return;
    }
    const colon = data.indexOf(':', start);
    if (this.expectBanner) {
      this.expectBanner = false;
      // The banner is the one line of the protocol that is not `Key: Value`.
      if (colon < 0 || colon >= end || data.startsWith('Asterisk Call Manager', start)) {
        this.banner = data.slice(start, end);
        return;
      }
    }
    // Lines without a key (the output of `Command`) carry nothing an adapter reads.
    if (colon < 0 || colon >= end || colon === start) return;
    if (this.keys >= MAX_FRAME_KEYS) return;
    const key = data.slice(start, colon);
    const valueStart = data.charCodeAt(colon + 1) === 32 ? colon + 2 : colon + 1;
    const value = valueStart >= end ? '' : data.slice(valueStart, end);
    const previous = this.frame[key];
    if (previous === undefined) {
      this.frame[key] = value;
      this.keys++;
    } else if (typeof previous === 'string') this.frame[key] = [previous, value];
    else previous.push(value);
  }
}

/** Parses a whole recorded session (tests, the bench). */
export function parseAll(raw: string, options: { banner?: boolean } = {}): AmiFrame[] {
  const parser = new AmiParser(options);
  const frames = parser.push(raw);
  return frames.concat(parser.push('\r\n\r\n'));
}

/** An action as wire bytes. Values are cut at the first line break: one must not smuggle in a key. */
export function encodeAction(
  action: string,
  actionId: string,
  params: Readonly<Record<string, string | readonly string[] | undefined>>,
): string {
  const clean = (s: string): string => s.replace(/[\r\n].*$/s, '');
  let out = `Action: ${clean(action)}\r\nActionID: ${clean(actionId)}\r\n`;
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined) continue;
    for (const v of typeof value === 'string' ? [value] : value) out += `${clean(key)}: ${clean(v)}\r\n`;
  }
  return `${out}\r\n`;
}
