/**
 * Which portal a PBX's calls belong to. A PBX's `portal` names a member_id, or a domain; member_ids
 * are the portals' own stable ids, while a domain is only what the OAuth server confirmed at
 * install. A PBX that names two portals (one's member_id and the other's domain) is refused: calls
 * never go to a portal by guess.
 */
import type { BridgeConfig } from '../config/index.ts';

interface PortalIdentity {
  memberId: string;
  domain: string | null;
}

/** The portals a name matches: by member_id, and by domain (case-insensitive). */
function portalsNamed<T extends PortalIdentity>(name: string, portals: Iterable<T>): T[] {
  const lower = name.toLowerCase();
  return [...portals].filter((p) => p.memberId === name || p.domain?.toLowerCase() === lower);
}

/** The member_id of the portal a PBX serves: the one its `portal` names; without one, the only portal. */
export function portalOf(
  pbx: BridgeConfig['pbx'][number],
  portals: readonly PortalIdentity[],
): string | undefined {
  if (pbx.portal === undefined) return portals.length === 1 ? portals[0]?.memberId : undefined;
  const named = portalsNamed(pbx.portal, portals);
  return named.length === 1 ? named[0]?.memberId : undefined;
}

/** What makes the PBXes' portals ambiguous, one sentence a PBX (no value of a secret in it). */
export function ambiguities(pbxes: BridgeConfig['pbx'], portals: Iterable<PortalIdentity>): string[] {
  const list = [...portals];
  return pbxes.flatMap((pbx) => {
    if (pbx.portal === undefined) return [];
    const named = portalsNamed(pbx.portal, list);
    return named.length > 1
      ? [
          `PBX ${pbx.id} names the portal "${pbx.portal}", which matches ${String(named.length)} portals ` +
            `(${named.map((p) => p.memberId).join(', ')}): name it by its member_id`,
        ]
      : [];
  });
}
