/**
 * Which channels are office phones, and which extension each one is. Configured as patterns with
 * `{ext}`: `PJSIP/{ext}`, `SIP/{ext}`, `Local/{ext}@from-queue`. A channel name carries more than
 * its device (`PJSIP/101-0000002a`, `Local/101@from-queue-00000003;1`, an Interface such as
 * `Local/101@from-queue/n`), so the name is cut down to the device before matching.
 */

const defaultDevicePatterns: readonly string[] = ['PJSIP/{ext}', 'SIP/{ext}'];

/** Digits only: trunks share the technology prefix (`PJSIP/trunk-1`), and office extensions are numbers. */
const EXT = '([0-9*#+][0-9*#+_.]{0,31})';

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export interface DeviceMap {
  /** The extension of a channel or Interface name, or null when it is not an office phone. */
  extensionOf(channel: string): string | null;
  /** The channel to ring an extension with (`Originate`), from the first pattern. */
  channelOf(extension: string): string;
}

/** `Local/101@ctx-0000001f;2` → `Local/101@ctx`; `PJSIP/101-0000002a` → `PJSIP/101`. */
function deviceOf(channel: string): string {
  let end = channel.length;
  const semi = channel.lastIndexOf(';');
  if (semi > 0 && end - semi === 2) end = semi;
  // The `-<hex sequence>` Asterisk appends to every channel of a device.
  const dash = channel.lastIndexOf('-', end);
  if (dash > 0 && end - dash - 1 >= 6 && /^[0-9a-fA-F]+$/.test(channel.slice(dash + 1, end))) end = dash;
  let device = channel.slice(0, end);
  // Queue member interfaces may carry Local channel options (`/n`).
  const slash = device.indexOf('/');
  const option = device.lastIndexOf('/');
  if (option > slash && device.startsWith('Local/')) device = device.slice(0, option);
  return device;
}

export function deviceMap(patterns: readonly string[] = defaultDevicePatterns): DeviceMap {
  const list = patterns.length > 0 ? patterns : defaultDevicePatterns;
  const regexes = list.map((p) => new RegExp(`^${escape(p).replace('\\{ext\\}', EXT)}$`, 'i'));
  const cache = new Map<string, string | null>();
  return {
    extensionOf(channel) {
      const device = deviceOf(channel);
      const known = cache.get(device);
      if (known !== undefined) return known;
      let ext: string | null = null;
      for (const re of regexes) {
        const m = re.exec(device);
        if (m?.[1] !== undefined) {
          ext = m[1];
          break;
        }
      }
      // Bounded: a device name is one of a handful per office; a flood of odd names must not grow it.
      if (cache.size > 10_000) cache.clear();
      cache.set(device, ext);
      return ext;
    },
    channelOf(extension) {
      return (list[0] ?? 'PJSIP/{ext}').replace('{ext}', extension);
    },
  };
}
