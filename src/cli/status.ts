/**
 * `b24-bridge status`: what waits for Bitrix24, per portal, read from the store; the link state
 * comes from the running bridge (`/healthz`) when it answers, since only the process knows it.
 */
import type { BridgeConfig } from '../config/index.ts';
import { openStore, sealerFromEnv, type Backlog } from '../store/index.ts';

interface PortalStatus {
  memberId: string;
  domain: string | null;
  backlog: Backlog;
  link: string;
  /** Why only a re-installation of the app helps (the OAuth server refused its tokens), or null. */
  needsReinstall: string | null;
}

async function linkStates(url: string): Promise<Map<string, string> | null> {
  try {
    const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) });
    const body = (await res.json()) as { portals?: { memberId: string; link: string }[] };
    return new Map((body.portals ?? []).map((p) => [p.memberId, p.link]));
  } catch {
    return null;
  }
}

export async function readStatus(config: BridgeConfig): Promise<PortalStatus[]> {
  const store = await openStore(config, sealerFromEnv().sealer);
  try {
    const host = config.server.host === '0.0.0.0' ? '127.0.0.1' : config.server.host;
    const links = await linkStates(config.server.publicUrl ?? `http://${host}:${config.server.port}`);
    const out: PortalStatus[] = [];
    for (const portal of await store.listPortals()) {
      out.push({
        memberId: portal.memberId,
        domain: portal.domain,
        backlog: await store.backlog(portal.memberId),
        needsReinstall: (await store.tokens.get(portal.memberId))?.needsReinstall?.reason ?? null,
        link:
          links === null ? 'unknown (the bridge is not running)' : (links.get(portal.memberId) ?? 'unknown'),
      });
    }
    return out;
  } finally {
    await store.close();
  }
}

export function formatStatus(portals: readonly PortalStatus[]): string[] {
  if (portals.length === 0) return ['no portal is connected yet'];
  return portals.flatMap((p) => [
    `portal ${p.memberId}${p.domain === null ? '' : ` (${p.domain})`}: link ${p.link}`,
    `  backlog: ${p.backlog.pending} pending, ${p.backlog.inFlight} in flight, ${p.backlog.failed} failed, ${p.backlog.dropped} dropped`,
    `  oldest open entry: ${p.backlog.oldestOpenAt === null ? 'none' : new Date(p.backlog.oldestOpenAt).toISOString()}`,
    ...(p.needsReinstall === null ? [] : [`  needs re-install: ${p.needsReinstall}`]),
  ]);
}
