/**
 * How many AMI events per second one core parses and maps: the real captures, concatenated and
 * fed through the parser and a fresh mapper, over and over for about `seconds`. Used by the
 * bench; no I/O besides reading the captures once.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deviceMap } from './devices.ts';
import { AmiParser } from './frames.ts';
import { AmiCallMapper, type MappedEvent } from './mapper.ts';

interface AmiThroughput {
  /** AMI events (frames) parsed and mapped. */
  events: number;
  /** Normalized events they produced. */
  mapped: number;
  seconds: number;
  eventsPerSec: number;
}

const capturesDir = fileURLToPath(new URL('../../../test/fixtures/asterisk-ami/', import.meta.url));

function loadCaptures(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.raw.txt'))
    .sort()
    .map((f) => readFileSync(join(dir, f), 'utf8'));
}

/** @public bench/ami-child.ts imports it by path, which no static analysis follows. */
export function measureAmiThroughput(
  options: { seconds?: number; captures?: readonly string[]; chunkBytes?: number } = {},
): AmiThroughput {
  const captures = options.captures ?? loadCaptures(capturesDir);
  // As TCP would deliver them: chunks cut anywhere, not one string per message.
  const chunkBytes = options.chunkBytes ?? 16 * 1024;
  const chunks: Buffer[] = [];
  for (const capture of captures) {
    const bytes = Buffer.from(capture.endsWith('\r\n\r\n') ? capture : `${capture}\r\n\r\n`, 'utf8');
    for (let i = 0; i < bytes.length; i += chunkBytes) chunks.push(bytes.subarray(i, i + chunkBytes));
  }
  const budgetMs = (options.seconds ?? 1) * 1000;
  const devices = deviceMap(['PJSIP/{ext}', 'Local/{ext}@sim-phones']);
  let events = 0;
  let mapped = 0;
  const out: MappedEvent[] = [];
  const start = performance.now();
  let elapsed = 0;
  let now = 1_800_000_000_000;
  do {
    const parser = new AmiParser({ banner: false });
    const mapper = new AmiCallMapper({ devices });
    for (const chunk of chunks) {
      for (const frame of parser.push(chunk)) {
        events++;
        mapper.push(frame, now++, out);
      }
      mapped += out.length;
      out.length = 0;
    }
    elapsed = performance.now() - start;
  } while (elapsed < budgetMs);
  const seconds = elapsed / 1000;
  return { events, mapped, seconds, eventsPerSec: Math.round(events / seconds) };
}
