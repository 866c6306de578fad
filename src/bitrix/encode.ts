/**
 * Parameters as Bitrix24 (PHP) reads them, and the `batch` command strings built from them.
 *
 * A parameter value may be a `Ref`: "field X of the result of operation Y". Inside one batch it
 * becomes `$result[key][X]`, which the portal substitutes after parsing the command's query (so
 * the reference is encoded like any other value); once Y has completed it becomes the real value.
 */

/** A reference to a field of another operation's (raw, portal-shaped) result. */
export class Ref<T = unknown> {
  /** Never set: carries the referenced value's type for the typed methods. */
  declare readonly _type?: T;

  constructor(
    /** The operation whose result is referred to (the queue's own type; opaque here). */
    readonly target: object,
    readonly path: readonly string[],
  ) {}
}

export type WireValue =
  | string
  | number
  | boolean
  | null
  | undefined
  | Ref
  | readonly WireValue[]
  | { readonly [key: string]: WireValue };

export type WireParams = Readonly<Record<string, WireValue>>;

/** What a Ref resolves to in one request: a known value, or a `$result[...]` of the same batch. */
export type RefResolver = (ref: Ref) => { value: unknown } | { batchKey: string };

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Ref);

/** The value at `path` inside a result (undefined when absent). */
export function pick(value: unknown, path: readonly string[]): unknown {
  let node = value;
  for (const key of path) {
    if (Array.isArray(node)) node = node[Number(key)] as unknown;
    else if (isRecord(node)) node = node[key];
    else return undefined;
  }
  return node;
}

/** Every Ref inside a parameter tree. */
export function refsOf(params: WireParams): Ref[] {
  const out: Ref[] = [];
  const walk = (v: unknown): void => {
    if (v instanceof Ref) out.push(v);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (isRecord(v)) Object.values(v).forEach(walk);
  };
  walk(params);
  return out;
}

/**
 * Replaces every Ref by its value (for a plain JSON call). A `$result` reference cannot appear in a
 * plain call; asking for one is a bug in the caller.
 */
export function resolveRefs(params: WireParams, resolve: RefResolver): Record<string, unknown> {
  const walk = (v: unknown): unknown => {
    if (v instanceof Ref) {
      const r = resolve(v);
      if ('batchKey' in r) throw new Error('a $result reference outside a batch');
      return r.value;
    }
    if (Array.isArray(v)) return v.map(walk);
    if (isRecord(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(params) as Record<string, unknown>;
}

const enc = encodeURIComponent;

/**
 * PHP `http_build_query` semantics: nested keys in brackets, list items by index, `true`/`false`
 * as 1/0, null and undefined left out (PHP drops nulls). Refs become `$result[key][path…]` or
 * their resolved value.
 */
export function encodeQuery(params: Readonly<Record<string, unknown>>, resolve?: RefResolver): string {
  const out: string[] = [];
  const scalar = (key: string, v: string): void => {
    out.push(`${enc(key)}=${enc(v)}`);
  };
  const walk = (key: string, v: unknown): void => {
    if (v === undefined || v === null) return;
    if (v instanceof Ref) {
      if (!resolve) throw new Error('a reference without a resolver');
      const r = resolve(v);
      if ('batchKey' in r) {
        scalar(key, `$result[${r.batchKey}]${v.path.map((p) => `[${p}]`).join('')}`);
      } else {
        walk(key, r.value);
      }
    } else if (Array.isArray(v)) {
      v.forEach((item, i) => walk(`${key}[${i}]`, item));
    } else if (isRecord(v)) {
      for (const [k, item] of Object.entries(v)) walk(`${key}[${k}]`, item);
    } else if (typeof v === 'boolean') {
      scalar(key, v ? '1' : '0');
    } else if (typeof v === 'string') {
      scalar(key, v);
    } else if (typeof v === 'number' || typeof v === 'bigint') {
      scalar(key, String(v));
    }
  };
  for (const [k, v] of Object.entries(params)) walk(k, v);
  return out.join('&');
}

/** One `cmd` entry of a batch: `method?query` (just `method` without parameters). */
export function batchCommand(method: string, params: WireParams, resolve: RefResolver): string {
  const query = encodeQuery(params, resolve);
  return query === '' ? method : `${method}?${query}`;
}
