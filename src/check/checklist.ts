/**
 * What `b24-bridge check` finds: one item per thing it tried, each `ok`, `warn` (works, but worth
 * a look), `fail` (the setup is not ready: with the fix) or `skip` (could not be tried, and why).
 */

export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

export interface CheckItem {
  /** What was tried: `configuration`, `store`, `portal b24-xxx.bitrix24.ru`, `pbx office: AMI`… */
  readonly name: string;
  readonly status: CheckStatus;
  /** What was found, for people; never a secret. */
  readonly detail: string;
  /** What to do about a failure or a warning. */
  readonly fix?: string | undefined;
  /** A stable code for scripts: `CONFIG_INVALID`, `AMI_LOGIN_FAILED`, `PORTAL_SCOPES_MISSING`… */
  readonly code?: string | undefined;
}

export interface CheckReport {
  /** The configuration file checked, when there was one. */
  readonly file: string | undefined;
  readonly items: readonly CheckItem[];
  /** Nothing failed: the bridge can take its first call. */
  readonly ready: boolean;
}

export const ok = (name: string, detail: string): CheckItem => ({ name, status: 'ok', detail });
export const warn = (name: string, detail: string, fix: string, code?: string): CheckItem => ({
  name,
  status: 'warn',
  detail,
  fix,
  code,
});
export const fail = (name: string, detail: string, fix: string, code: string): CheckItem => ({
  name,
  status: 'fail',
  detail,
  fix,
  code,
});
export const skip = (name: string, detail: string): CheckItem => ({ name, status: 'skip', detail });

const mark: Record<CheckStatus, string> = { ok: 'ok  ', warn: 'warn', fail: 'FAIL', skip: 'skip' };

/** The checklist as lines for a terminal or a log: plain text, one item a line, its fix below. */
export function formatChecklist(report: CheckReport): string[] {
  const lines = [`b24-bridge check${report.file === undefined ? '' : ` of ${report.file}`}:`];
  for (const item of report.items) {
    const [first = '', ...more] = item.detail.split('\n');
    lines.push(`  [${mark[item.status]}] ${item.name}: ${first}`);
    for (const line of more) lines.push(`         ${line}`);
    if (item.fix !== undefined && item.status !== 'ok') lines.push(`         fix: ${item.fix}`);
  }
  const failed = report.items.filter((i) => i.status === 'fail').length;
  const warned = report.items.filter((i) => i.status === 'warn').length;
  const warnings = warned === 0 ? '' : ` (${warned} warning${warned === 1 ? '' : 's'})`;
  lines.push(
    report.ready
      ? `ready: everything the configuration names works${warnings}`
      : `not ready: ${failed} problem${failed === 1 ? '' : 's'} to fix${warnings}`,
  );
  return lines;
}
