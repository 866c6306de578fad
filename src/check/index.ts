/** `b24-bridge check`: the configuration, then everything it names, as a checklist with fixes. */
export { formatChecklist, type CheckItem, type CheckReport } from './checklist.ts';
export { runCheck } from './run.ts';
