/**
 * Who is busy, derived from the legs of the calls in progress rather than stored a second time:
 * a phone ringing or talking for one call is not free for another. Bitrix24 has no such notion
 * (spec §6.5), so the PBX's own events are the only source.
 */
import type { Call, EngineState } from './state.ts';

/**
 * Shards are never changed once built, so what one says about presence can be remembered for as
 * long as the shard lives; a step rebuilds one shard and so recomputes one small entry.
 */
const byShard = new WeakMap<object, ReadonlyMap<string, readonly string[]>>();

/** Extension → keys of the calls it rings or talks in, within one shard. */
function presenceOf(shard: Readonly<Record<string, Call>>): ReadonlyMap<string, readonly string[]> {
  const known = byShard.get(shard);
  if (known !== undefined) return known;
  const busy = new Map<string, string[]>();
  for (const call of Object.values(shard)) {
    if (call.phase !== 'live' && call.phase !== 'pending') continue;
    for (const [extension, leg] of Object.entries(call.legs)) {
      if (leg === 'stopped') continue;
      const keys = busy.get(extension);
      if (keys === undefined) busy.set(extension, [call.key]);
      else keys.push(call.key);
    }
  }
  byShard.set(shard, busy);
  return busy;
}

/** Ringing or talking in a call other than `exceptCallKey`. */
export function isBusy(state: EngineState, extension: string, exceptCallKey: string | null = null): boolean {
  for (const shard of Object.values(state.shards)) {
    const keys = presenceOf(shard).get(extension);
    if (keys?.some((key) => key !== exceptCallKey)) return true;
  }
  return false;
}
