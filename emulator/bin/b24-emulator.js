#!/usr/bin/env node
// Runs the TypeScript sources through tsx: the emulator is a development tool of this repository,
// installed with it (npm install), and ships without a build step.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli.ts');
