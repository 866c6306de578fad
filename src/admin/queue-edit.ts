/**
 * A queue edit, checked with the configuration's own field rules (an extension is an extension
 * wherever it is written), so the UI and the configuration file refuse the same things with the
 * same words.
 */
import { z } from 'zod';
import { queueSchema } from '../config/schema.ts';
import type { QueueEdit } from './view.ts';

const { members, strategy, memberTimeoutSec } = queueSchema.shape;

/** The duplicate check sits on the list itself, so it is reported along with the other fields' problems. */
const queueEditSchema = z.strictObject({
  members: members.superRefine((list, ctx) => {
    list.forEach((member, index) => {
      if (list.indexOf(member) !== index)
        ctx.addIssue({ code: 'custom', path: [index], message: 'this extension is already a member' });
    });
  }),
  strategy,
  memberTimeoutSec,
});

export interface EditProblem {
  /** `members[1]`, `strategy`, … or '' for the whole body. */
  path: string;
  message: string;
}

type EditOutcome = { ok: true; edit: QueueEdit } | { ok: false; problems: EditProblem[] };

function pathOf(path: readonly PropertyKey[]): string {
  return path
    .map((p, i) => (typeof p === 'number' ? `[${String(p)}]` : `${i === 0 ? '' : '.'}${String(p)}`))
    .join('');
}

export function parseQueueEdit(body: unknown): EditOutcome {
  const parsed = queueEditSchema.safeParse(body);
  if (parsed.success) return { ok: true, edit: parsed.data };
  return {
    ok: false,
    problems: parsed.error.issues.map((issue) => ({ path: pathOf(issue.path), message: issue.message })),
  };
}

/**
 * The HTML form's fields as the JSON body: members typed as "101, 102 103", the timeout as text.
 * Anything that is not a number stays text, so the schema names the field instead of guessing.
 */
export function queueEditFromForm(form: Record<string, unknown>): unknown {
  const text = (v: unknown): string => (typeof v === 'string' ? v.trim() : '');
  const timeout = text(form.memberTimeoutSec);
  return {
    members: text(form.members)
      .split(/[\s,;]+/)
      .filter((m) => m !== ''),
    strategy: text(form.strategy),
    memberTimeoutSec: /^\d+(\.\d+)?$/.test(timeout) ? Number(timeout) : timeout,
  };
}

export const describeProblems = (problems: readonly EditProblem[]): string =>
  problems.map((p) => (p.path === '' ? p.message : `${p.path}: ${p.message}`)).join('; ');
