/**
 * The configuration's `engine` section as the call engine's `EngineConfig`, with the directory
 * (extension → Bitrix24 user) completed from the portal's users. A type-only import of the core:
 * the configuration shapes the engine's input and stays free of its code.
 */
import type { DirectoryEntry, EngineConfig, LineConfig } from '../core/index.ts';
import type { BridgeConfig, LineSettings } from './schema.ts';

interface ToEngineOptions {
  /** Told when two entries claim one extension; the first one listed is kept. */
  readonly onConflict?: (message: string) => void;
  /** The portal's user the bridge acts as: who is left to log a call to when nobody else is. */
  readonly installerUserId?: number | undefined;
}

function lineOf(settings: LineSettings): LineConfig {
  // `name` is for people; the engine keys lines by id.
  const { name: _name, ...line } = settings;
  return line;
}

/**
 * `directory` is what the portal says (users' UF_PHONE_INNER); the configuration's own entries win
 * over it, and a portal where two users share an inner number keeps the first, since the engine
 * refuses an extension listed twice.
 */
export function toEngineConfig(
  config: BridgeConfig,
  directory: readonly DirectoryEntry[],
  options: ToEngineOptions = {},
): EngineConfig {
  const { engine } = config;
  const seen = new Map<string, DirectoryEntry>();
  for (const entry of [...engine.directory, ...directory]) {
    const kept = seen.get(entry.extension);
    if (kept === undefined) seen.set(entry.extension, entry);
    else if (kept.userId !== entry.userId)
      options.onConflict?.(
        `extension ${entry.extension} belongs to user ${String(kept.userId)} and to user ${String(entry.userId)}; kept ${String(kept.userId)}`,
      );
  }
  return {
    directory: [...seen.values()],
    lines: engine.lines.map(lineOf),
    defaultLine: engine.defaultLine,
    ...(engine.defaultUserId === undefined ? {} : { defaultUserId: engine.defaultUserId }),
    ...(options.installerUserId === undefined ? {} : { installerUserId: options.installerUserId }),
    skipClosedWorkday: engine.skipClosedWorkday,
    routeWaitSec: engine.routeWaitSec,
    tombstoneSec: engine.tombstoneSec,
    recording: engine.recording,
    ringTimeoutSec: engine.ringTimeoutSec,
    ...(engine.addToChat === undefined ? {} : { addToChat: engine.addToChat }),
    ...(engine.originateTimeoutSec === undefined ? {} : { originateTimeoutSec: engine.originateTimeoutSec }),
    ...(engine.maxCallSec === undefined ? {} : { maxCallSec: engine.maxCallSec }),
    ...(engine.retainSec === undefined ? {} : { retainSec: engine.retainSec }),
  };
}
