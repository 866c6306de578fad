/**
 * Which addresses a URL handed to somebody else to fetch (a recording URL given to the portal) may
 * point at. The portal fetches whatever it is given, so a URL naming the loopback, a private
 * network, a link-local address or a cloud metadata service would make it (or an on-premise
 * portal's server) reach into a network nobody meant to expose. Names are resolved and every
 * address they resolve to must be public; an allow-list of hosts opens the rest.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

const blocked = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, and the metadata service of most clouds (169.254.169.254)
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const)
  blocked.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['64:ff9b:1::', 48], // local-use NAT64
  ['100::', 64], // discard
  ['2001:db8::', 32], // documentation
  ['fc00::', 7], // unique local (fd00:ec2::254 is a metadata service)
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
] as const)
  blocked.addSubnet(net, prefix, 'ipv6');

/** Host names of metadata services that resolve to link-local addresses only inside their cloud. */
const metadataNames = new Set(['metadata.google.internal', 'metadata', 'instance-data']);

/** An IPv4 address written inside IPv6 (`::ffff:127.0.0.1`, `::127.0.0.1`) as the IPv4 it is. */
function embeddedIpv4(address: string): string | null {
  const m = /^::(?:ffff:(?:0+:)?)?(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (m?.[1] !== undefined) return m[1];
  const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(address);
  if (hex?.[1] === undefined || hex[2] === undefined) return null;
  const a = parseInt(hex[1], 16);
  const b = parseInt(hex[2], 16);
  return `${String(a >> 8)}.${String(a & 255)}.${String(b >> 8)}.${String(b & 255)}`;
}

/** Whether an IP address is one anybody on the Internet could reach (not loopback, private, …). */
export function isPublicAddress(address: string): boolean {
  const bare = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const family = isIP(bare);
  if (family === 4) return !blocked.check(bare, 'ipv4');
  if (family === 6) {
    const v4 = embeddedIpv4(bare);
    if (v4 !== null) return !blocked.check(v4, 'ipv4');
    return !blocked.check(bare, 'ipv6');
  }
  return false;
}

export type HostLookup = (host: string) => Promise<readonly string[]>;

/** Every address the system resolver gives for a name (IPv4 and IPv6). */
const systemLookup: HostLookup = async (host) =>
  (await dnsLookup(host, { all: true, verbatim: true })).map((a) => a.address);

/**
 * Whether a URL may be handed on; `unresolved` when its name did not resolve here (then nothing of
 * this network can be reached by it through this resolver's answers, and the portal resolves it).
 */
type UrlVerdict = { ok: true; unresolved?: boolean } | { ok: false; reason: 'not-allowed' | 'not-public' };

interface PublicUrlOptions {
  /**
   * Hosts allowed whatever they resolve to (`host`, `host:port`, `*.domain`). When given, only
   * these hosts pass: the allow-list both opens private addresses and closes everything else.
   */
  allowHosts?: readonly string[] | undefined;
  lookup?: HostLookup | undefined;
  /** A resolver that does not answer within this is a failed lookup. Default 2 s. */
  lookupTimeoutMs?: number | undefined;
}

/** Whether `url`'s host is one of `hosts` (`host`, `host:port`, or `*.domain` for its subdomains). */
export function hostAllowed(url: string, hosts: readonly string[]): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  const host = parsed.hostname.toLowerCase();
  const withPort = parsed.port === '' ? host : `${host}:${parsed.port}`;
  return hosts.some((h) => {
    const rule = h.toLowerCase();
    if (rule.startsWith('*.')) return host.endsWith(rule.slice(1)) && !rule.includes(':');
    return rule.includes(':') ? rule === withPort : rule === host;
  });
}

/**
 * Whether a URL may be handed on to be fetched: on the allow-list when there is one, else a host
 * whose every address is public. A name that does not resolve here passes (marked `unresolved`):
 * refusing it would stop offline offices, and what this resolver cannot see it cannot judge.
 */
export async function checkPublicUrl(url: string, options: PublicUrlOptions = {}): Promise<UrlVerdict> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { ok: false, reason: 'not-allowed' };
  }
  if (options.allowHosts !== undefined)
    return hostAllowed(url, options.allowHosts) ? { ok: true } : { ok: false, reason: 'not-allowed' };
  // `localhost.` is `localhost`: the root's dot changes no answer.
  const host = parsed.hostname
    .replace(/^\[|\]$/g, '')
    .replace(/\.+$/, '')
    .toLowerCase();
  if (isIP(host) !== 0) return isPublicAddress(host) ? { ok: true } : { ok: false, reason: 'not-public' };
  if (host === 'localhost' || host.endsWith('.localhost') || metadataNames.has(host))
    return { ok: false, reason: 'not-public' };
  const lookup = options.lookup ?? systemLookup;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), options.lookupTimeoutMs ?? 2_000);
  });
  try {
    const addresses = await Promise.race([lookup(host), timeout]);
    if (addresses === 'timeout' || addresses.length === 0) return { ok: true, unresolved: true };
    return addresses.every(isPublicAddress) ? { ok: true } : { ok: false, reason: 'not-public' };
  } catch {
    return { ok: true, unresolved: true };
  } finally {
    clearTimeout(timer);
  }
}
