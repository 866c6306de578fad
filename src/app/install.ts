/**
 * What an install sets up on the portal once it is verified (`verify.ts`): the events the bridge
 * acts on, bound to its handler, and the configured lines.
 */
import { BitrixError, type PortalApi } from '../bitrix/index.ts';
import type { BridgeConfig } from '../config/index.ts';

const alreadyExists = (e: unknown): boolean =>
  e instanceof BitrixError && /already exists/i.test(e.portalDescription ?? e.message);

/** `telephony.externalLine.add` for every configured line with a number; existing ones are kept. */
export async function registerLines(api: PortalApi, engine: BridgeConfig['engine']): Promise<number> {
  let added = 0;
  for (const line of engine.lines) {
    if (line.number === undefined) continue;
    try {
      await api.externalLine.add({
        number: line.number,
        name: line.name ?? line.id,
        crmAutoCreate: line.leadCreation === 'all' || line.leadCreation === 'inbound',
      });
      added++;
    } catch (e) {
      if (!alreadyExists(e)) throw e;
    }
  }
  return added;
}

/** The CRM changes that keep the CRM phone index fresh: a record added, changed or deleted. */
export const crmChangeEvents = {
  ONCRMCONTACTADD: ['CONTACT', false],
  ONCRMCONTACTUPDATE: ['CONTACT', false],
  ONCRMCONTACTDELETE: ['CONTACT', true],
  ONCRMCOMPANYADD: ['COMPANY', false],
  ONCRMCOMPANYUPDATE: ['COMPANY', false],
  ONCRMCOMPANYDELETE: ['COMPANY', true],
  ONCRMLEADADD: ['LEAD', false],
  ONCRMLEADUPDATE: ['LEAD', false],
  ONCRMLEADDELETE: ['LEAD', true],
} as const satisfies Record<string, readonly ['CONTACT' | 'COMPANY' | 'LEAD', boolean]>;

/** The events the bridge acts on; ONAPPTEST answers the app page's "Event test". */
export const boundEvents = [
  'ONAPPINSTALL',
  'ONAPPUNINSTALL',
  'ONEXTERNALCALLSTART',
  'ONEXTERNALCALLBACKSTART',
  'ONAPPTEST',
  ...(Object.keys(crmChangeEvents) as (keyof typeof crmChangeEvents)[]),
] as const;

/** The rights (scopes) the application was given on the portal. */
export async function grantedScopes(api: PortalApi): Promise<string[]> {
  const raw = await api.call('scope');
  return Array.isArray(raw.result) ? raw.result.filter((s): s is string => typeof s === 'string') : [];
}

/** What outbound-only mode binds as offline events: install and event tests need a reachable URL. */
export const offlineBoundEvents = boundEvents.filter((e) => e !== 'ONAPPINSTALL' && e !== 'ONAPPTEST');

/**
 * Binds every event of `boundEvents` to `handler`, once: what is bound already (a re-install, a
 * restart) is left as it is, and a handler at another address of this app is moved here. The CRM's
 * change events need the `crm` right: without it they are left out (the portal would refuse them,
 * and the install must not fail for the index's sake; `b24-bridge check` names the missing right).
 * Outbound-only (`offline`): the events are bound as offline events instead, and handlers bound
 * for push before are removed (the portal could not reach them anyway).
 */
export async function bindEvents(
  api: PortalApi,
  handler: string,
  options: { offline?: boolean } = {},
): Promise<{ added: number; skipped: string[] }> {
  const [bound, scopes] = await Promise.all([api.event.get(), grantedScopes(api)]);
  const skipped = scopes.includes('crm') ? [] : Object.keys(crmChangeEvents);
  let added = 0;
  if (options.offline === true) {
    for (const event of boundEvents) {
      if (skipped.includes(event)) continue;
      const mine = bound.filter((b) => b.event === event);
      for (const old of mine.filter((b) => !b.offline))
        await api.event.unbind({ event, handler: old.handler });
      if (!(offlineBoundEvents as readonly string[]).includes(event) || mine.some((b) => b.offline)) continue;
      await api.event.bind({ event, handler: '', eventType: 'offline' });
      added++;
    }
    return { added, skipped };
  }
  for (const event of boundEvents) {
    if (skipped.includes(event)) continue;
    const mine = bound.filter((b) => b.event === event && !b.offline);
    for (const offline of bound.filter((b) => b.event === event && b.offline))
      await api.event.unbind({ event, handler: offline.handler, eventType: 'offline' });
    if (mine.some((b) => b.handler === handler)) continue;
    for (const old of mine) await api.event.unbind({ event, handler: old.handler });
    await api.event.bind({ event, handler });
    added++;
  }
  return { added, skipped };
}
