/**
 * How the CRM phone index keys a number: its digits, without an extension written after it
 * (`;ext=12`, ` ext 12`, `#12`) and without the international call prefix `00`. So
 * `+7 (916) 123-45-67` and `0079161234567` are one caller, as the CRM's duplicate search sees them.
 */
export function phoneKey(raw: string): string | null {
  const main = raw.split(/(?:;|,|#|\bext\.?|\bx)\s*=?\s*\d*$/i)[0] ?? raw;
  let digits = main.replace(/\D/g, '');
  if (digits.startsWith('00')) digits = digits.slice(2);
  // Shorter than that: an extension or a service number, never a CRM client.
  return digits.length >= 6 && digits.length <= 20 ? digits : null;
}
