/**
 * ISO-8601 date-times as Bitrix24 accepts them (`2026-03-07T10:20:30+03:00`, `...Z`, or without an
 * offset meaning portal time). Words like "yesterday" are refused.
 */
const iso =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,6}))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

export function parseIsoDate(text: string, portalOffsetMinutes: number): number | null {
  const m = iso.exec(text.trim());
  if (!m) return null;
  const [, y, mo, d, h = '00', mi = '00', s = '00', frac = '0', zone] = m;
  const month = Number(mo);
  const day = Number(d);
  if (month < 1 || month > 12 || day < 1 || day > 31 || Number(h) > 23 || Number(mi) > 59 || Number(s) > 59)
    return null;
  let offset = portalOffsetMinutes;
  if (zone && zone.toUpperCase() !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    offset = sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4) || '0'));
  } else if (zone) {
    offset = 0;
  }
  const utc = Date.UTC(
    Number(y),
    month - 1,
    day,
    Number(h),
    Number(mi),
    Number(s),
    Number(frac.padEnd(3, '0').slice(0, 3)),
  );
  const date = new Date(utc);
  if (date.getUTCDate() !== day) return null; // 2026-02-31 and the like
  return utc - offset * 60_000;
}
