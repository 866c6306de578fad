/**
 * AMI events parsed and mapped per second on one core: the Asterisk adapter's own measurement
 * (`measureAmiThroughput()` of `src/pbx/asterisk/bench.ts`, over its captures), run alone in this
 * process so nothing else shares its thread. The adapter is being written alongside the bench:
 * while that module or export is missing, the answer says so and the figure is null.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { serveParent } from './ipc.ts';

export interface AmiAnswer {
  eventsPerSec: number | null;
  note: string;
}

const modulePath = '../src/pbx/asterisk/bench.ts';

/** Reads the figure out of whatever shape the adapter returns: a number, or an object with one. */
export function eventsPerSecOf(value: unknown): number | null {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value !== 'object' || value === null) return null;
  const o = value as Record<string, unknown>;
  for (const key of ['amiEventsPerSec', 'eventsPerSec', 'eventsPerSecond', 'perSec', 'rate']) {
    const v = o[key];
    if (typeof v === 'number' && Number.isFinite(v)) return v;
  }
  return null;
}

async function measure(): Promise<AmiAnswer> {
  if (!existsSync(fileURLToPath(new URL(modulePath, import.meta.url))))
    return { eventsPerSec: null, note: 'src/pbx/asterisk/bench.ts does not exist yet' };
  const mod = (await import(modulePath)) as { measureAmiThroughput?: unknown };
  if (typeof mod.measureAmiThroughput !== 'function')
    return { eventsPerSec: null, note: 'src/pbx/asterisk/bench.ts exports no measureAmiThroughput() yet' };
  const result: unknown = await (mod.measureAmiThroughput as () => unknown)();
  const eventsPerSec = eventsPerSecOf(result);
  return eventsPerSec === null
    ? {
        eventsPerSec: null,
        note: `measureAmiThroughput() returned no figure: ${JSON.stringify(result).slice(0, 200)}`,
      }
    : { eventsPerSec, note: 'measureAmiThroughput() of src/pbx/asterisk/bench.ts' };
}

serveParent({ measure: () => measure() });
