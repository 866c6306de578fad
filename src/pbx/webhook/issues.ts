/** zod's issues, restated as the API's problems: a stable code, a JSON pointer, a sentence. */
import type { z } from 'zod';
import { problem, type PbxApiErrorCode, type Problem, type ProblemLocation } from './errors.ts';

/** RFC 6901: `~` and `/` in a key are escaped. */
export function pointer(path: readonly PropertyKey[]): string {
  return path.map((key) => `/${String(key).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}

/** The JSON type of a value, as a message names it. */
export function jsonTypeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  switch (typeof value) {
    case 'string':
      return 'a string';
    case 'number':
      return 'a number';
    case 'boolean':
      return 'a boolean';
    case 'object':
      return 'an object';
    default:
      return typeof value;
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const absent = Symbol('absent');

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let value: unknown = root;
  for (const key of path) {
    if (typeof key === 'symbol') return absent;
    if (Array.isArray(value) && typeof key === 'number') value = key < value.length ? value[key] : absent;
    else if (isRecord(value) && Object.hasOwn(value, key)) value = value[key];
    else return absent;
  }
  return value;
}

/**
 * The issues of a failed parse of `input`, each with `prefix` (the event's place in a batch) before
 * its path. A missing field and a wrong-typed one are told apart by looking at the input itself:
 * zod reports both as `invalid_type`.
 */
export function problemsOf(
  issues: readonly z.core.$ZodIssue[],
  input: unknown,
  prefix: readonly PropertyKey[] = [],
  location: ProblemLocation = 'body',
): Problem[] {
  return issues.map((issue) => {
    const path = pointer([...prefix, ...issue.path]);
    const at = path === '' ? 'body' : path;
    const value = valueAt(input, issue.path);
    let code: PbxApiErrorCode;
    let message: string;
    if (issue.code === 'invalid_type' && value === absent) {
      code = 'MISSING_FIELD';
      message = `${at} is required: ${issue.message}`;
    } else if (issue.code === 'invalid_type') {
      code = 'WRONG_TYPE';
      message = `${at}: ${issue.message}, got ${jsonTypeOf(value)}`;
    } else {
      code = 'INVALID_VALUE';
      message = `${at}: ${issue.message}`;
    }
    return problem(code, path, message, location);
  });
}
