/** The origin (`https://portal.bitrix24.com`) of a portal's REST endpoint, or null. */
export function originOf(endpoint: string | null | undefined): string | null {
  if (endpoint === null || endpoint === undefined) return null;
  try {
    const url = new URL(endpoint);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.origin : null;
  } catch {
    return null;
  }
}
