/**
 * Lines edited in the admin UI. They are kept in the store (the admin setting `lines`), so every
 * instance on one PostgreSQL routes by the same queues and an edit survives a restart; at start
 * they replace the `lines` of the configuration they name. Earlier versions kept them in
 * `admin-lines.json` beside the SQLite file: such a file is taken into the store once, at the
 * first start that finds the store without edited lines.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { ConfigError, type BridgeConfig } from '../config/index.ts';
import type { Store } from '../store/index.ts';
import { engineSchema } from '../config/schema.ts';

const fileSchema = z.strictObject({
  version: z.literal(1),
  /** The top-level `engine.lines`. */
  lines: engineSchema.shape.lines.optional(),
  /** `portals[].engine.lines`, by the entry's `portal`. */
  portals: z.record(z.string(), engineSchema.shape.lines).default({}),
});

export type LinesFile = z.output<typeof fileSchema>;

/** Where earlier versions kept the edited lines: beside the SQLite file; on PostgreSQL in `./data`. */
export function linesFilePath(config: BridgeConfig): string {
  const dir = config.store.kind === 'sqlite' ? dirname(resolve(config.store.path)) : resolve('data');
  return join(dir, 'admin-lines.json');
}

/** The store's key of the edited lines. */
export const LINES_SETTING = 'lines';

function parseLines(value: unknown, where: string): LinesFile {
  const parsed = fileSchema.safeParse(value);
  if (!parsed.success)
    throw new ConfigError('CONFIG_INVALID', [
      { key: '', message: `${where} (lines edited in the admin UI) is not valid; fix or delete it` },
    ]);
  return parsed.data;
}

/** The configuration with the edited lines in. */
function withLines(config: BridgeConfig, file: LinesFile): BridgeConfig {
  return {
    ...config,
    engine: file.lines ? { ...config.engine, lines: file.lines } : config.engine,
    portals: config.portals.map((p) => {
      const lines = file.portals[p.portal];
      return lines ? { ...p, engine: { ...p.engine, lines } } : p;
    }),
  };
}

/** What of the configuration the admin UI edits: its lines, at the top and per portal. */
function linesOf(config: BridgeConfig): LinesFile {
  return {
    version: 1,
    lines: config.engine.lines,
    portals: Object.fromEntries(config.portals.map((p) => [p.portal, p.engine.lines])),
  };
}

/** The configuration with the edited lines in; unchanged when there is no file. */
export function withEditedLines(config: BridgeConfig, path: string | undefined): BridgeConfig {
  if (path === undefined || !existsSync(path)) return config;
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    value = undefined;
  }
  return withLines(config, parseLines(value, path));
}

/** A revision of the edited lines, as the store holds them. */
interface StoredLines {
  file: LinesFile;
  revision: number;
}

export async function readStoredLines(store: Store): Promise<StoredLines | undefined> {
  const setting = await store.admin.getSetting(LINES_SETTING);
  if (!setting) return undefined;
  return {
    file: parseLines(setting.value, `the store's admin setting "${LINES_SETTING}"`),
    revision: setting.revision,
  };
}

/**
 * The configuration with the store's edited lines in, and their revision (0: none edited). A
 * store without them takes those of an `admin-lines.json` left by an earlier version, once.
 */
export async function loadEditedLines(
  store: Store,
  config: BridgeConfig,
  legacyPath: string | undefined,
  now: number,
): Promise<{ config: BridgeConfig; revision: number }> {
  const stored = await readStoredLines(store);
  if (stored) return { config: withLines(config, stored.file), revision: stored.revision };
  if (legacyPath === undefined || !existsSync(legacyPath)) return { config, revision: 0 };
  const imported = withEditedLines(config, legacyPath);
  return { config: imported, revision: await storeEditedLines(store, imported, now) };
}

/** Stores the configuration's lines as the edited ones; returns their revision. */
export function storeEditedLines(store: Store, config: BridgeConfig, now: number): Promise<number> {
  return store.admin.putSetting(LINES_SETTING, linesOf(config), now);
}

/** Written whole to a temporary file and renamed: a crash leaves the old file or the new one. */
export async function saveEditedLines(path: string, config: BridgeConfig): Promise<void> {
  const file = linesOf(config);
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.${String(process.pid)}.tmp`;
  await writeFile(temporary, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  await rename(temporary, path);
}
