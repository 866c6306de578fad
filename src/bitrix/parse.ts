import { BitrixError } from './errors.ts';

/**
 * Tolerant readers for what the portal sends back: ids as strings or numbers, `{}` where a date
 * should be, `[]` where an object should be, booleans as Y/N, 1/0 or true/false (spec §1.3, §1.8).
 */

export type Json = Record<string, unknown>;

const isRecord = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** An object; an empty PHP array (`[]`) counts as an empty object. */
export const obj = (v: unknown): Json => (isRecord(v) ? v : {});

/** A list; an empty object (`{}`) or anything else counts as empty. */
export const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : isRecord(v) ? Object.values(v) : []);

export const str = (v: unknown): string =>
  typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : '';

/** A string, or null for null/absent/`{}`. */
export const strOrNull = (v: unknown): string | null =>
  typeof v === 'string' ? v : typeof v === 'number' ? String(v) : null;

/** An integer from a number or a numeric string; null otherwise (including "" and `{}`). */
export function intOrNull(v: unknown): number | null {
  if (typeof v === 'number') return Number.isFinite(v) ? Math.trunc(v) : null;
  if (typeof v === 'string' && /^\s*-?\d+\s*$/.test(v)) return Number.parseInt(v, 10);
  return null;
}

export const int = (v: unknown, fallback = 0): number => intOrNull(v) ?? fallback;

export const num = (v: unknown, fallback = 0): number => {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : fallback;
};

export function bool(v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'string') return ['Y', '1', 'TRUE'].includes(v.trim().toUpperCase());
  return false;
}

/** A date-time string as a Date; `{}`, "", null or garbage as null. */
export function dateOrNull(v: unknown): Date | null {
  if (typeof v !== 'string' || v.trim() === '') return null;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? null : d;
}

export const ints = (v: unknown): number[] =>
  list(v)
    .map((x) => intOrNull(x))
    .filter((x) => x !== null);

/** The answer is not what the method returns: a BAD_RESPONSE, not a crash further down. */
export function badShape(method: string, what: string): BitrixError {
  return new BitrixError('BAD_RESPONSE', `${method}: unexpected result (${what})`, {
    method,
    maybeDelivered: true,
  });
}

/** ISO-8601 with an offset, as Bitrix24 wants dates (`2026-03-07T10:20:30+00:00`). */
export function isoDate(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, '+00:00');
}
