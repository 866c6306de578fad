#!/usr/bin/env node
// Runs the compiled bridge, dist/ (`npm run build`; `npm install` builds it through `prepare`).
//
// B24_BRIDGE_FROM_SOURCES=1 runs the TypeScript sources in src/ through tsx instead, a development
// tool: the test suite sets it, so every test runs the code as it is now and none depends on a
// dist/ left over from an earlier build.
import { existsSync } from 'node:fs';

if (process.env.B24_BRIDGE_FROM_SOURCES === '1') {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
} else {
  const compiled = new URL('../dist/cli/main.js', import.meta.url);
  if (!existsSync(compiled)) {
    console.error('b24-bridge: dist/ is missing: run npm run build (npm install runs it too)');
    process.exit(1);
  }
  await import(compiled.href);
}
