/** The command line's parts, for tests and other entry points (the bin runs `main.ts`). */
export { startDemo, type Demo } from './demo.ts';
