/**
 * Which of the two answers the bridge's API gives a caller wants: JSON (the default, also for
 * `*\/*` and no Accept at all) or plain text, when `text/plain` ranks above `application/json` in
 * its Accept header (a PBX reading the answer with a dialplan function, say).
 */
export function prefersText(accept: string | undefined): boolean {
  if (accept === undefined || accept === '') return false;
  let text = -1;
  let json = -1;
  for (const part of accept.split(',')) {
    const [type = '', ...params] = part.trim().toLowerCase().split(';');
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const q = qParam === undefined ? 1 : Number(qParam.slice(2));
    if (!Number.isFinite(q)) continue;
    if (type === 'text/plain') text = Math.max(text, q);
    else if (type === 'application/json') json = Math.max(json, q);
  }
  return text > 0 && text > json;
}
