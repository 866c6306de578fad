/**
 * A steady, realistic stream of calls for the demo: arrivals at random (a Poisson process at
 * `callsPerMinute`), a mix of the scenarios, known and unknown callers, never more calls at once
 * than the office could hold.
 */
import type { SimClock } from './clock.ts';
import { pick, seededRandom, type Random } from './random.ts';
import { demoLines, knownCallers } from './settings.ts';
import type { CallSpec, SimulatedCallResult } from './types.ts';

/** Relative weights of the kinds of call; the defaults give every scenario a turn every few minutes. */
export interface StreamMix {
  /** A caller dials an agent's extension (S1). */
  readonly direct?: number;
  /** A CRM-known caller on the Sales line: to the responsible manager (S3). */
  readonly salesKnown?: number;
  /** An unknown caller on the Sales line: the simultaneous queue (S2a). */
  readonly salesUnknown?: number;
  /** Anyone on the Support line: the sequential queue (S2b). */
  readonly support?: number;
  /** An agent dials out from the desk phone. */
  readonly outbound?: number;
}

export interface SteadyStreamOptions {
  readonly callsPerMinute: number;
  readonly mix?: StreamMix;
  /** No new call while this many are in progress (default 4: three agents and a spare). */
  readonly maxConcurrentCalls?: number;
  /** Extensions callers dial directly and agents dial out from (default 101–103). */
  readonly extensions?: readonly string[];
  readonly seed?: number;
}

export interface SteadyStream {
  stop(): void;
  /** Calls placed so far. */
  readonly placed: number;
}

export const defaultMix: Required<StreamMix> = {
  direct: 2,
  salesKnown: 3,
  salesUnknown: 3,
  support: 2,
  outbound: 1,
};

export interface StreamHost {
  readonly clock: SimClock;
  active(): number;
  isFree(extension: string): boolean;
  place(spec: CallSpec): Promise<SimulatedCallResult>;
}

export function startSteadyStream(host: StreamHost, options: SteadyStreamOptions): SteadyStream {
  if (!(options.callsPerMinute > 0))
    throw new RangeError(`callsPerMinute must be positive, got ${options.callsPerMinute}`);
  const random = seededRandom(options.seed ?? 1);
  const mix = { ...defaultMix, ...options.mix };
  const extensions = options.extensions ?? ['101', '102', '103'];
  const limit = options.maxConcurrentCalls ?? 4;
  const meanMs = 60_000 / options.callsPerMinute;
  let placed = 0;
  let cancel: (() => void) | null = null;

  const schedule = (): void => {
    // Exponential gaps: calls bunch up and thin out like real ones.
    const gapMs = -Math.log(1 - random.next()) * meanMs;
    cancel = host.clock.setTimer(gapMs, () => {
      if (host.active() < limit) {
        const spec = nextCall(random, mix, extensions, (e) => host.isFree(e));
        if (spec !== null) {
          placed++;
          // A call's outcome is reported through the simulator's events; nothing waits for it here.
          host.place(spec).catch(() => undefined);
        }
      }
      schedule();
    });
  };
  schedule();
  return {
    stop() {
      cancel?.();
      cancel = null;
    },
    get placed() {
      return placed;
    },
  };
}

function unknownNumber(random: Random): string {
  return `+7916${String(Math.floor(random.next() * 10_000_000)).padStart(7, '0')}`;
}

function anyCaller(random: Random): string {
  return random.next() < 0.4 ? pick(knownCallers, random) : unknownNumber(random);
}

function nextCall(
  random: Random,
  mix: Required<StreamMix>,
  extensions: readonly string[],
  isFree: (extension: string) => boolean,
): CallSpec | null {
  const kinds = Object.entries(mix).filter(([, weight]) => weight > 0);
  const total = kinds.reduce((sum, [, weight]) => sum + weight, 0);
  let draw = random.next() * total;
  const kind = kinds.find(([, weight]) => (draw -= weight) < 0)?.[0] ?? 'salesUnknown';
  switch (kind as keyof StreamMix) {
    case 'direct':
      return { from: anyCaller(random), to: pick(extensions, random) };
    case 'salesKnown':
      return { from: pick(knownCallers, random), to: demoLines.sales };
    case 'salesUnknown':
      return { from: unknownNumber(random), to: demoLines.sales };
    case 'support':
      return { from: anyCaller(random), to: demoLines.support };
    case 'outbound': {
      const free = extensions.filter(isFree);
      if (free.length === 0) return null;
      return { direction: 'outbound', extension: pick(free, random), number: anyCaller(random) };
    }
  }
}
