/** `b24-bridge check`: the configuration, then everything it names, as a checklist with fixes. */
export { formatChecklist, type CheckItem, type CheckReport, type CheckStatus } from './checklist.ts';
export { requiredScopes, runCheck, type CheckOptions } from './run.ts';
