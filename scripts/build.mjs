#!/usr/bin/env node
// `npm run build`: src/ compiled by tsc into dist/ (what bin/b24-bridge.js, the Docker image and the
// systemd unit run), plus the files the code reads at run time (the stores' SQL migrations).
// Prints nothing when all is well; any compiler message fails the build.
//
// `--if-typescript` (the `prepare` script): a production install (`npm ci --omit=dev`) has no
// TypeScript, and then there is nothing to build; it says so and leaves dist/ as it is.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const dist = join(root, 'dist');
const require = createRequire(import.meta.url);

let tsc;
try {
  tsc = require.resolve('typescript/bin/tsc');
} catch {
  if (process.argv.includes('--if-typescript')) {
    console.log('b24-bridge: TypeScript is not installed (a production install): dist/ is left as it is');
    process.exit(0);
  }
  console.error('b24-bridge: the build needs TypeScript: run npm install first');
  process.exit(1);
}

// A clean dist/: a file whose source was removed must not linger in the build.
rmSync(dist, { recursive: true, force: true });
const run = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], {
  cwd: root,
  stdio: 'inherit',
});
if (run.status !== 0) process.exit(run.status ?? 1);

/** Every `migrations/` folder under src/, copied beside its compiled `migrate.js`. */
function copyMigrations(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const path = join(dir, entry.name);
    if (entry.name === 'migrations')
      cpSync(path, join(dist, relative(join(root, 'src'), path)), { recursive: true });
    else copyMigrations(path);
  }
}
copyMigrations(join(root, 'src'));
if (!existsSync(join(dist, 'cli', 'main.js'))) {
  console.error('b24-bridge: the build made no dist/cli/main.js');
  process.exit(1);
}
