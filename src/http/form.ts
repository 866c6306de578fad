/**
 * Bitrix24 posts its events form-encoded with PHP's bracket nesting (`data[PHONE_NUMBER]=…`,
 * `auth[application_token]=…`, `data[CRM_CREATED_ENTITIES][0][ENTITY_TYPE]=LEAD`). This reads such
 * a body into plain objects. It is the first thing a forged or broken request meets, so it is
 * strict about size: a bounded number of fields and depth, and names that could reach an object's
 * prototype are refused rather than interpreted.
 */

export type FormValue = string | FormObject;
export interface FormObject {
  [key: string]: FormValue;
}

export class FormError extends Error {
  readonly code = 'INVALID_FORM';
}

const MAX_FIELDS = 1000;
const MAX_DEPTH = 6;
const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);

/** `a[b][c]` → `['a', 'b', 'c']`; `a[]` appends (its key is ''). Null when the name is malformed. */
function pathOf(name: string): string[] | null {
  const open = name.indexOf('[');
  if (open === -1) return [name];
  const path = [name.slice(0, open)];
  let rest = name.slice(open);
  while (rest.length > 0) {
    const m = /^\[([^[\]]*)\]/.exec(rest);
    if (!m) return null;
    path.push(m[1] ?? '');
    rest = rest.slice(m[0].length);
  }
  return path;
}

/** Parses an `application/x-www-form-urlencoded` body with bracket nesting. */
export function parseNestedForm(body: string): FormObject {
  const out: FormObject = Object.create(null) as FormObject;
  let fields = 0;
  for (const [name, value] of new URLSearchParams(body)) {
    if (++fields > MAX_FIELDS) throw new FormError(`more than ${MAX_FIELDS} fields`);
    const path = pathOf(name);
    if (path === null || path[0] === '') throw new FormError('a field name is malformed');
    if (path.length > MAX_DEPTH) throw new FormError(`fields nested deeper than ${MAX_DEPTH}`);
    if (path.some((p) => FORBIDDEN.has(p))) throw new FormError('a field name is not allowed');
    let node = out;
    for (let i = 0; i < path.length; i++) {
      let key = path[i] ?? '';
      const last = i === path.length - 1;
      if (key === '') key = String(Object.keys(node).length);
      if (last) {
        node[key] = value;
        break;
      }
      const next = node[key];
      if (typeof next === 'object') node = next;
      else {
        // A scalar and a nested field of the same name: the nested one wins, as in PHP.
        const created = Object.create(null) as FormObject;
        node[key] = created;
        node = created;
      }
    }
  }
  return out;
}
