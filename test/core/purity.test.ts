/**
 * The core does no I/O and reads no clock or randomness: it imports nothing but its own modules
 * (not even types from elsewhere) and touches none of the ambient globals that reach the outside.
 * Tests are exempt: they may import their tools.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

// This test reads files, so it lives outside the folder it guards, which may do no I/O at all.
const core = resolve(dirname(fileURLToPath(import.meta.url)), '../../src/core');
const sources = readdirSync(core, { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
  .map((f) => join(core, f));

/** Globals that read the clock, draw random numbers or talk to the world. */
const FORBIDDEN = new Set([
  'Date',
  'process',
  'setTimeout',
  'setInterval',
  'setImmediate',
  'queueMicrotask',
  'fetch',
  'require',
  'globalThis',
  'performance',
  'crypto',
  'console',
  'WebSocket',
  'XMLHttpRequest',
]);

function importsOf(file: string): string[] {
  const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  return info.importedFiles.map((i) => i.fileName);
}

function forbiddenUses(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2023, true);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isIdentifier(node) && FORBIDDEN.has(node.text)) {
      const parent = node.parent;
      // `x.Date` or `{ Date: … }` name a property, not the global.
      const isPropertyName =
        (ts.isPropertyAccessExpression(parent) && parent.name === node) ||
        (ts.isPropertyAssignment(parent) && parent.name === node);
      if (!isPropertyName)
        found.push(`${node.text} at line ${source.getLineAndCharacterOfPosition(node.pos).line + 1}`);
    }
    if (
      ts.isPropertyAccessExpression(node) &&
      ts.isIdentifier(node.expression) &&
      node.expression.text === 'Math' &&
      node.name.text === 'random'
    )
      found.push('Math.random');
    if (node.kind === ts.SyntaxKind.ImportKeyword && ts.isCallExpression(parent(node)))
      found.push('import()');
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

const parent = (node: ts.Node): ts.Node => node.parent;

describe('src/core is pure', () => {
  it('has modules to check', () => {
    expect(sources.map((f) => relative(core, f))).toContain('engine.ts');
  });

  it.each(sources.map((f) => [relative(core, f), f]))('%s imports only core modules', (_name, file) => {
    for (const specifier of importsOf(file)) {
      expect(specifier, `${specifier} is not a relative import`).toMatch(/^\.\.?\//);
      const target = resolve(dirname(file), specifier);
      expect(relative(core, target).startsWith('..'), `${specifier} leaves src/core`).toBe(false);
      expect(sources, `${specifier} is not a core module`).toContain(target);
    }
  });

  it.each(sources.map((f) => [relative(core, f), f]))(
    '%s uses no clock, randomness or I/O globals',
    (_name, file) => {
      expect(forbiddenUses(file)).toEqual([]);
    },
  );

  it('catches what it is meant to catch', () => {
    const probe = (code: string) => ts.preProcessFile(code, true, true).importedFiles.map((i) => i.fileName);
    expect(
      probe("import type { X } from 'node:fs'; export * from '../pbx/x.ts'; await import('y');"),
    ).toEqual(['node:fs', '../pbx/x.ts', 'y']);
  });
});
