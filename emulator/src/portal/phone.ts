/**
 * Phone numbers as the CRM duplicate index sees them: digits only, extension ignored. Two numbers
 * match when their digits are equal or, when both have at least 10 digits, their last 10 digits
 * are (so `+7 916 123-45-67`, `79161234567` and `89161234567` are one subscriber).
 */
export function digits(phone: string): string {
  // An extension written as `;ext=12`, ` ext 12` or `#12` is not part of the number.
  const main = phone.split(/(?:;|,|#|\bext\.?|\bx)\s*\d*$/i)[0] ?? phone;
  return main.replace(/\D/g, '');
}

export function samePhone(a: string, b: string): boolean {
  const da = digits(a);
  const db = digits(b);
  if (da === '' || db === '') return false;
  if (da === db) return true;
  return da.length >= 10 && db.length >= 10 && da.slice(-10) === db.slice(-10);
}

/** Two numbers that samePhone() matches always share this key. */
export function phoneKey(phone: string): string {
  const d = digits(phone);
  return d.length >= 10 ? d.slice(-10) : d;
}

/** register's normalization: letters are stripped; the rest is kept as the client number. */
export function stripLetters(phone: string): string {
  return phone.replace(/[A-Za-z]/g, '').trim();
}

/** E.164-ish international form used in the click-to-call event. */
export function international(phone: string): string {
  const d = digits(phone);
  if (d.length === 11 && d.startsWith('8')) return `+7${d.slice(1)}`;
  return d === '' ? phone : `+${d}`;
}
