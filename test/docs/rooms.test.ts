/**
 * The folders, the README's folder map and docs/architecture.md agree: every room of `src/` is in
 * both, and the architecture's "may import" column is what rooms.mjs (which ESLint enforces) says.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { rooms } from '../../rooms.mjs';

const root = join(import.meta.dirname, '../..');
const folders = readdirSync(join(root, 'src'), { withFileTypes: true })
  .filter((e) => e.isDirectory())
  .map((e) => e.name)
  .sort();

/** `| `src/x/` | … | … |` rows of a markdown table, by folder (a cell may name two: `src/a/`, `src/b/`). */
function rows(markdown: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of markdown.split('\n')) {
    if (!line.startsWith('| `src/')) continue;
    const cells = line
      .split('|')
      .slice(1, -1)
      .map((c) => c.trim());
    for (const m of (cells[0] ?? '').matchAll(/`src\/([a-z-]+)\/`/g)) if (m[1]) out.set(m[1], cells);
  }
  return out;
}

describe('the documented rooms', () => {
  it('the README folder map names every folder of src/, and no other', () => {
    const map = rows(readFileSync(join(root, 'README.md'), 'utf8'));
    expect([...map.keys()].sort()).toEqual(folders);
  });

  it('docs/architecture.md lists every room with the imports rooms.mjs allows it', () => {
    const table = rows(readFileSync(join(root, 'docs/architecture.md'), 'utf8'));
    expect([...table.keys()].sort()).toEqual(folders);
    for (const [room, rule] of Object.entries(rooms)) {
      const allowed =
        (rule.imports.join(', ') || 'nothing') + (rule.types ? `; types of ${rule.types.join(', ')}` : '');
      expect(table.get(room)?.[2], room).toBe(allowed);
    }
  });
});
