/**
 * Lines edited in the admin UI, kept in `admin-lines.json` beside the SQLite file (the data
 * directory the bridge owns). At start it replaces the `lines` of the configuration it names, so
 * an edit survives a restart; delete the file to go back to the configuration file's lines.
 *
 * A file rather than a store table: it is a piece of configuration a person may read, diff and
 * back up, and it needs no migration in both stores.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { ConfigError, type BridgeConfig } from '../config/index.ts';
import { engineSchema } from '../config/schema.ts';

const fileSchema = z.strictObject({
  version: z.literal(1),
  /** The top-level `engine.lines`. */
  lines: engineSchema.shape.lines.optional(),
  /** `portals[].engine.lines`, by the entry's `portal`. */
  portals: z.record(z.string(), engineSchema.shape.lines).default({}),
});

export type LinesFile = z.output<typeof fileSchema>;

/**
 * Beside the SQLite file; on PostgreSQL in `./data`, like the recordings. Each instance keeps its
 * own: with several instances an edit reaches only the one that took it (edit the file there).
 */
export function linesFilePath(config: BridgeConfig): string {
  const dir = config.store.kind === 'sqlite' ? dirname(resolve(config.store.path)) : resolve('data');
  return join(dir, 'admin-lines.json');
}

/** The configuration with the edited lines in; unchanged when there is no file. */
export function withEditedLines(config: BridgeConfig, path: string | undefined): BridgeConfig {
  if (path === undefined || !existsSync(path)) return config;
  let parsed;
  try {
    parsed = fileSchema.safeParse(JSON.parse(readFileSync(path, 'utf8')));
  } catch {
    parsed = undefined;
  }
  if (!parsed?.success)
    throw new ConfigError('CONFIG_INVALID', [
      { key: '', message: `${path} (lines edited in the admin UI) is not valid; fix or delete it` },
    ]);
  const file = parsed.data;
  return {
    ...config,
    engine: file.lines ? { ...config.engine, lines: file.lines } : config.engine,
    portals: config.portals.map((p) => {
      const lines = file.portals[p.portal];
      return lines ? { ...p, engine: { ...p.engine, lines } } : p;
    }),
  };
}

/** Written whole to a temporary file and renamed: a crash leaves the old file or the new one. */
export async function saveEditedLines(path: string, config: BridgeConfig): Promise<void> {
  const file: LinesFile = {
    version: 1,
    lines: config.engine.lines,
    portals: Object.fromEntries(config.portals.map((p) => [p.portal, p.engine.lines])),
  };
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.${String(process.pid)}.tmp`;
  await writeFile(temporary, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  await rename(temporary, path);
}
