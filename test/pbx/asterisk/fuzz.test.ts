import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { deviceMap } from '../../../src/pbx/asterisk/devices.ts';
import { AmiParser, type AmiFrame } from '../../../src/pbx/asterisk/frames.ts';
import { AmiCallMapper, type MappedEvent } from '../../../src/pbx/asterisk/mapper.ts';
import { captureFrames, simDevices } from './helpers.ts';

const frames = ['01-inbound-direct', '03-queue-ringall', '07-click-to-call', '12-inbound-busy'].flatMap(
  (name) => captureFrames(name).filter((f) => f.Event !== 'VarSet' && f.Event !== 'Newexten'),
);
const keys = [...new Set(frames.flatMap((f) => Object.keys(f)))];

/** What any stream, however mangled, must still give: each call started once, first, and ended at most once. */
function wellFormed(events: readonly MappedEvent[]): void {
  const started = new Set<string>();
  const ended = new Set<string>();
  for (const e of events) {
    expect(typeof e.callId === 'string' && e.callId !== '').toBe(true);
    expect(Number.isFinite(e.at)).toBe(true);
    if (e.type === 'call.started') {
      expect(started.has(e.callId), `${e.callId} started twice`).toBe(false);
      started.add(e.callId);
      continue;
    }
    expect(started.has(e.callId), `${e.type} before call.started`).toBe(true);
    if (e.type === 'call.ended') {
      expect(ended.has(e.callId), `${e.callId} ended twice`).toBe(false);
      ended.add(e.callId);
    } else if (e.type !== 'asterisk.recording')
      expect(ended.has(e.callId), `${e.type} after the end`).toBe(false);
  }
}

type Mutation =
  | { kind: 'drop'; key: string }
  | { kind: 'set'; key: string; value: string }
  | { kind: 'swap'; key: string; from: number }
  | { kind: 'event'; value: string };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('drop' as const), key: fc.constantFrom(...keys) }),
  fc.record({
    kind: fc.constant('set' as const),
    key: fc.constantFrom(...keys),
    value: fc.string({ maxLength: 30 }),
  }),
  fc.record({
    kind: fc.constant('swap' as const),
    key: fc.constantFrom('Uniqueid', 'Linkedid', 'DestUniqueid', 'Channel', 'DestChannel'),
    from: fc.nat(),
  }),
  fc.record({
    kind: fc.constant('event' as const),
    value: fc.constantFrom(
      'Hangup',
      'DialEnd',
      'Newstate',
      'BridgeEnter',
      'AgentConnect',
      'BlindTransfer',
      'OriginateResponse',
      'Bogus',
    ),
  }),
);

function mutate(frame: AmiFrame, m: Mutation, all: readonly AmiFrame[]): AmiFrame {
  const copy: Record<string, string | readonly string[]> = Object.create(null) as Record<string, string>;
  for (const [key, value] of Object.entries(frame)) if (m.kind !== 'drop' || key !== m.key) copy[key] = value;
  if (m.kind === 'set') copy[m.key] = m.value;
  else if (m.kind === 'swap') {
    const other = all[m.from % all.length]?.[m.key];
    if (other !== undefined) copy[m.key] = other;
  } else if (m.kind === 'event') copy.Event = m.value;
  return copy;
}

describe('fuzz: mutated AMI never throws, and calls stay well formed', () => {
  it('mutated, dropped, repeated and reordered frames into the mapper', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(frames.length - 1), fc.option(mutation, { nil: undefined })), {
          maxLength: 300,
        }),
        fc.boolean(),
        (picks, route) => {
          const mapper = new AmiCallMapper({
            devices: deviceMap(simDevices),
            mode: route ? 'route' : 'mirror',
          });
          const out: MappedEvent[] = [];
          let now = 0;
          for (const [index, m] of picks) {
            const frame = frames[index];
            if (frame === undefined) continue;
            mapper.push(m === undefined ? frame : mutate(frame, m, frames), (now += 1), out);
          }
          const marker = mapper.beginResync();
          out.push(
            ...mapper.endResync(
              marker,
              picks.slice(0, 10).map(([i]) => frames[i] ?? {}),
              (now += 1),
            ),
          );
          wellFormed(out);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('random bytes, cut anywhere, into the parser and on into the mapper', () => {
    const wire = fc.array(
      fc.oneof(
        fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
        fc
          .constantFrom(
            '\r\n',
            '\r\n\r\n',
            ': ',
            'Event: Hangup\r\n',
            'Uniqueid: 1.1\r\n',
            'Linkedid: 1.1\r\n',
            'Channel: PJSIP/101-0001\r\n',
            '__proto__: x\r\n',
          )
          .map((s) => Buffer.from(s)),
        fc.string({ maxLength: 40 }).map((s) => Buffer.from(s)),
      ),
      { maxLength: 80 },
    );
    fc.assert(
      fc.property(wire, (chunks) => {
        const parser = new AmiParser();
        const mapper = new AmiCallMapper({ devices: deviceMap(simDevices) });
        const out: MappedEvent[] = [];
        for (const chunk of chunks)
          for (const frame of parser.push(chunk)) {
            expect(Object.getPrototypeOf(frame)).toBeNull();
            mapper.push(frame, 1, out);
          }
        wellFormed(out);
      }),
      { numRuns: 500 },
    );
  });

  it('a message split at every byte boundary parses as when whole, multi-byte characters included', () => {
    const text =
      'Asterisk Call Manager/11.0.0\r\nEvent: Newchannel\r\nCallerIDName: Иван Петров\r\nChanVariable: A=1\r\nChanVariable: B=2\r\n\r\n';
    const bytes = Buffer.from(text, 'utf8');
    const whole = new AmiParser().push(bytes);
    for (let cut = 1; cut < bytes.length; cut++) {
      const parser = new AmiParser();
      const parts = [...parser.push(bytes.subarray(0, cut)), ...parser.push(bytes.subarray(cut))];
      expect(parts).toEqual(whole);
      expect(parser.banner).toBe('Asterisk Call Manager/11.0.0');
    }
    expect(whole[0]?.CallerIDName).toBe('Иван Петров');
    expect(whole[0]?.ChanVariable).toEqual(['A=1', 'B=2']);
  });
});

/**
 * The fuzz count the threat model names: 100,000 mutated frames of the real captures, as bytes on the wire, through the
 * parser and the mapper. Mutations are seeded (FUZZ_SEED replays a run): a byte flipped, a line
 * dropped or repeated, a value replaced with another frame's, a frame cut short or doubled.
 */
describe('fuzz: 100,000 mutated AMI frames of the captures', () => {
  it('parses and maps them all without a throw; calls stay well formed', () => {
    let seed = Number(process.env.FUZZ_SEED ?? 20_261_124) >>> 0;
    const random = (): number => {
      seed = (seed + 0x6d2b79f5) >>> 0;
      let t = seed;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const int = (n: number): number => Math.floor(random() * n);
    const texts = frames.map((f) =>
      Object.entries(f)
        .flatMap(([k, v]) =>
          Array.isArray(v) ? (v as string[]).map((x) => `${k}: ${x}`) : [`${k}: ${String(v)}`],
        )
        .join('\r\n'),
    );
    const mutateFrame = (text: string): string => {
      const lines = text.split('\r\n');
      switch (int(6)) {
        case 0: {
          const i = int(text.length);
          return text.slice(0, i) + String.fromCharCode(int(256)) + text.slice(i + 1);
        }
        case 1:
          lines.splice(int(lines.length), 1);
          return lines.join('\r\n');
        case 2:
          lines.push(lines[int(lines.length)] ?? '');
          return lines.join('\r\n');
        case 3: {
          const other = (texts[int(texts.length)] ?? '').split('\r\n');
          lines[int(lines.length)] = other[int(other.length)] ?? '';
          return lines.join('\r\n');
        }
        case 4:
          return text.slice(0, int(text.length));
        default:
          return `${text}\r\n${text}`;
      }
    };
    const TOTAL = 100_000;
    let sent = 0;
    let parsed = 0;
    while (sent < TOTAL) {
      // One session of up to 500 frames: a fresh parser and mapper, as after a reconnect.
      const parser = new AmiParser();
      const mapper = new AmiCallMapper({
        devices: deviceMap(simDevices),
        mode: random() < 0.5 ? 'route' : 'mirror',
      });
      const out: MappedEvent[] = [];
      const session = Math.min(500, TOTAL - sent);
      let wire = 'Asterisk Call Manager/11.0.0\r\n';
      for (let i = 0; i < session; i++) {
        const text = texts[int(texts.length)] ?? '';
        wire += `${random() < 0.5 ? mutateFrame(text) : text}\r\n\r\n`;
      }
      sent += session;
      const bytes = Buffer.from(wire, 'latin1');
      // Delivered in random chunks, as TCP does.
      for (let at = 0; at < bytes.length;) {
        const size = 1 + int(4096);
        for (const frame of parser.push(bytes.subarray(at, at + size))) {
          parsed++;
          mapper.push(frame, parsed, out);
        }
        at += size;
      }
      wellFormed(out);
    }
    expect(sent).toBe(TOTAL);
    expect(parsed).toBeGreaterThan(TOTAL * 0.9);
  }, 120_000);
});
