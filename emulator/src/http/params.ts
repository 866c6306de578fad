/**
 * Request parameters the way PHP (and so Bitrix24) sees them: `a[b][]=1&a[b][]=2` in a query string
 * or a form body becomes `{a: {b: ["1", "2"]}}`, the same structure a JSON body gives.
 */

/** A parameter tree: what a JSON body or a bracket-encoded form decodes to. */
export type Param = string | number | boolean | null | Param[] | { [key: string]: Param };
export type Params = Record<string, Param>;

/** A PHP array while it is being built: ordered keys, integer keys tracked for `[]` appends. */
class PhpArray {
  readonly entries = new Map<string, PhpArray | string>();
  nextIndex = 0;

  set(key: string | null, value: PhpArray | string): PhpArray | string {
    const k = key ?? String(this.nextIndex);
    if (/^(0|-?[1-9]\d*)$/.test(k)) {
      const n = Number(k);
      if (n >= this.nextIndex) this.nextIndex = n + 1;
    }
    this.entries.set(k, value);
    return value;
  }

  child(key: string | null): PhpArray {
    if (key !== null) {
      const existing = this.entries.get(key);
      if (existing instanceof PhpArray) return existing;
    }
    const created = new PhpArray();
    this.set(key, created);
    return created;
  }

  /** PHP arrays whose keys are exactly 0..n-1 become lists, as json_encode does. */
  toParam(): Param {
    const keys = [...this.entries.keys()];
    const isList = keys.every((k, i) => k === String(i));
    if (isList && keys.length > 0) {
      return keys.map((k) => finalize(this.entries.get(k)));
    }
    const out: { [key: string]: Param } = Object.create(null) as { [key: string]: Param };
    for (const [k, v] of this.entries) out[k] = finalize(v);
    return out;
  }
}

const finalize = (v: PhpArray | string | undefined): Param =>
  v instanceof PhpArray ? v.toParam() : (v ?? '');

/** Splits `a[b][]` into `["a", "b", null]`; `null` is an append. Keys without brackets are whole. */
export function splitKey(raw: string): (string | null)[] | null {
  const open = raw.indexOf('[');
  if (open <= 0) return raw === '' ? null : [raw];
  const base = raw.slice(0, open);
  const parts: (string | null)[] = [base];
  let rest = raw.slice(open);
  while (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0) break;
    const inner = rest.slice(1, close);
    parts.push(inner === '' ? null : inner);
    rest = rest.slice(close + 1);
  }
  return parts;
}

/** Builds a parameter tree from decoded key/value pairs, PHP style. Later scalar keys overwrite. */
export function fromPairs(pairs: Iterable<[string, string]>): Params {
  const root = new PhpArray();
  for (const [rawKey, value] of pairs) {
    const path = splitKey(rawKey);
    if (!path) continue;
    let node = root;
    for (let i = 0; i < path.length - 1; i++) node = node.child(path[i] ?? null);
    node.set(path[path.length - 1] ?? null, value);
  }
  const tree = root.toParam();
  return isRecord(tree) ? tree : {};
}

/** Decodes an `application/x-www-form-urlencoded` string (also a query string), `+` as space. */
export function parseQuery(text: string): Params {
  return fromPairs(decodePairs(text));
}

export function decodePairs(text: string): [string, string][] {
  const pairs: [string, string][] = [];
  for (const piece of text.split('&')) {
    if (piece === '') continue;
    const eq = piece.indexOf('=');
    const k = eq < 0 ? piece : piece.slice(0, eq);
    const v = eq < 0 ? '' : piece.slice(eq + 1);
    pairs.push([safeDecode(k), safeDecode(v)]);
  }
  return pairs;
}

function safeDecode(s: string): string {
  const plus = s.replace(/\+/g, ' ');
  try {
    return decodeURIComponent(plus);
  } catch {
    // PHP keeps malformed escapes as they are instead of failing the request.
    return plus;
  }
}

/** Encodes a parameter tree in bracket notation, as Bitrix24 posts events and PHP's http_build_query. */
export function encodeForm(params: Record<string, unknown>): string {
  const out: string[] = [];
  const walk = (prefix: string, value: unknown): void => {
    if (value === undefined) return;
    if (value === null) {
      out.push(`${encodeURIComponent(prefix)}=`);
    } else if (Array.isArray(value)) {
      value.forEach((v, i) => walk(`${prefix}[${i}]`, v));
    } else if (typeof value === 'object') {
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) walk(`${prefix}[${k}]`, v);
    } else if (typeof value === 'boolean') {
      out.push(`${encodeURIComponent(prefix)}=${value ? '1' : ''}`);
    } else if (typeof value === 'string' || typeof value === 'number' || typeof value === 'bigint') {
      out.push(`${encodeURIComponent(prefix)}=${encodeURIComponent(String(value))}`);
    }
  };
  for (const [k, v] of Object.entries(params)) walk(k, v);
  return out.join('&');
}

export function isRecord(v: unknown): v is Record<string, Param> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Upper-cases the top-level keys, as the telephony methods do (`array_change_key_case`). */
export function upperKeys(params: Params): Params {
  const out: Params = {};
  for (const [k, v] of Object.entries(params)) out[k.toUpperCase()] = v;
  return out;
}

// --- PHP-like casts: form values are strings, JSON values may be numbers; both must work. ---

/** PHP `(int)`: leading integer of a string, truncated number, 0 for anything else. */
export function toInt(v: Param | undefined): number {
  if (typeof v === 'number') return Number.isFinite(v) ? Math.trunc(v) : 0;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string') {
    const m = /^\s*([+-]?\d+)/.exec(v);
    return m?.[1] ? Number.parseInt(m[1], 10) : 0;
  }
  return 0;
}

/** PHP `(string)` for scalars; undefined for arrays and absent values. */
export function toStr(v: Param | undefined): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  if (typeof v === 'boolean') return v ? '1' : '';
  return undefined;
}

/** Truthiness of a flag given as 1/0, "Y"/"N", true/false. */
export function toFlag(v: Param | undefined, fallback: boolean): boolean {
  if (v === undefined || v === null || v === '') return fallback;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'string') {
    const s = v.trim().toUpperCase();
    return !(s === '0' || s === 'N' || s === 'FALSE' || s === '');
  }
  return fallback;
}

/** A scalar-or-list parameter as a list of positive integers (`USER_ID=5` or `USER_ID[]=5&USER_ID[]=7`). */
export function toIntList(v: Param | undefined): number[] {
  if (v === undefined || v === null || v === '') return [];
  const items = Array.isArray(v) ? v : isRecord(v) ? Object.values(v) : [v];
  return items.map(toInt).filter((n) => n > 0);
}
