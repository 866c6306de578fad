/**
 * The architecture's arrows are enforced: ESLint refuses an import that points the wrong way
 * (fixtures linted as if they sat in a room), the table has no cycle, and the rooms it names are
 * the folders of `src/`.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import { describe, expect, it } from 'vitest';
import { roomRules, rooms } from '../../rooms.mjs';

const root = join(import.meta.dirname, '../..');

async function problems(filePath: string, code: string): Promise<string[]> {
  // Only the room rules, with the TypeScript parser: the fixtures need no type information.
  const eslint = new ESLint({
    cwd: root,
    overrideConfigFile: true,
    overrideConfig: [{ files: ['**/*.ts'], languageOptions: { parser: tseslint.parser } }, ...roomRules()],
  });
  const [result] = await eslint.lintText(code, { filePath: join(root, filePath) });
  return (result?.messages ?? []).map((m) => m.message);
}

describe('room import rules', () => {
  it('refuses the store importing the outbox', async () => {
    const found = await problems('src/store/fixture.ts', "import { Outbox } from '../outbox/index.ts';\n");
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/src\/store\/ may import/);
  });

  it('counts the depth of a nested file', async () => {
    const code = "import { SqliteStore } from '../../outbox/index.ts';\n";
    expect(await problems('src/store/sqlite/fixture.ts', code)).toHaveLength(1);
    // Inside its own room a file climbs freely.
    expect(await problems('src/store/sqlite/fixture.ts', "import { x } from '../types.ts';\n")).toEqual([]);
  });

  it('refuses the admin UI importing the server (the old cycle)', async () => {
    const code = "import { ServerError } from '../server/errors.ts';\n";
    expect(await problems('src/admin/fixture.ts', code)).toHaveLength(1);
    expect(
      await problems('src/admin/fixture.ts', "import { ServerError } from '../http/index.ts';\n"),
    ).toEqual([]);
  });

  it('lets a types-only arrow carry types and nothing else', async () => {
    expect(
      await problems('src/metrics/fixture.ts', "import type { Outbox } from '../outbox/index.ts';\n"),
    ).toEqual([]);
    const found = await problems('src/metrics/fixture.ts', "import { Outbox } from '../outbox/index.ts';\n");
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/only the types of/);
  });

  it('keeps the core free of every other room', async () => {
    for (const other of Object.keys(rooms).filter((r) => r !== 'core'))
      expect(
        await problems('src/core/fixture.ts', `import { x } from '../${other}/index.ts';\n`),
      ).toHaveLength(1);
  });
});

describe('the rooms table', () => {
  it('names exactly the folders of src/', () => {
    const folders = readdirSync(join(root, 'src'), { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort();
    expect(Object.keys(rooms).sort()).toEqual(folders);
  });

  it('points only at rooms it names, and has no cycle', () => {
    const names = new Set(Object.keys(rooms));
    const arrows = (room: string): string[] => {
      const r = rooms[room];
      return r === undefined ? [] : [...r.imports, ...(r.types ?? [])];
    };
    for (const room of names) for (const to of arrows(room)) expect(names, `${room} → ${to}`).toContain(to);
    // Depth-first search; a room met again on the current path is a cycle.
    const done = new Set<string>();
    const visit = (room: string, path: string[]): void => {
      if (path.includes(room)) throw new Error(`cycle: ${[...path, room].join(' → ')}`);
      if (done.has(room)) return;
      for (const to of arrows(room)) visit(to, [...path, room]);
      done.add(room);
    };
    for (const room of names) visit(room, []);
  });
});
