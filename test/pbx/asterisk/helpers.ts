/** Shared by the Asterisk tests: captures through the parser and mapper, and events as short lines. */
import { readFileSync } from 'node:fs';
import { deviceMap } from '../../../src/pbx/asterisk/devices.ts';
import { parseAll } from '../../../src/pbx/asterisk/frames.ts';
import { AmiCallMapper, type MappedEvent } from '../../../src/pbx/asterisk/mapper.ts';
import { fixturesDir, type FakeAmi } from './fake-ami.ts';

/** The captures' phones are Local channels into `sim-phones` (see the fixtures' README). */
export const simDevices = ['PJSIP/{ext}', 'Local/{ext}@sim-phones'];

/** `pbx[].ami` for a FakeAmi: its address and login, and the simulator's devices. */
export function fakeAmiSettings(ami: FakeAmi) {
  return {
    host: '127.0.0.1',
    port: ami.port,
    username: ami.username,
    secret: ami.secret,
    devicePattern: simDevices,
  };
}

export function captureFrames(name: string) {
  return parseAll(readFileSync(new URL(`${name}.raw.txt`, fixturesDir), 'utf8'), { banner: false });
}

/** One line per event, without the call id and time: what a person checks a capture against. */
export function line(e: MappedEvent): string {
  switch (e.type) {
    case 'call.started':
      return `started ${e.direction} ${e.from} → ${e.to}`;
    case 'call.ringing':
      return `ringing ${e.extensions.join(' ')}`;
    case 'call.ring_stopped':
      return `ring_stopped ${e.extensions.join(' ')}`;
    case 'call.answered':
      return `answered ${e.extension}`;
    case 'call.transferred':
      return `transferred ${e.to}`;
    case 'call.ended':
      return `ended ${e.reason ?? '?'}`;
    case 'recording.ready':
      return `recording ${e.filename ?? e.url ?? ''}`;
    case 'asterisk.recording':
      return `recording ${e.file.slice(e.file.lastIndexOf('/') + 1)}`;
  }
}

export function mapCapture(
  name: string,
  prepare?: (mapper: AmiCallMapper) => void,
  mode: 'mirror' | 'route' = 'mirror',
): { events: MappedEvent[]; mapper: AmiCallMapper } {
  const mapper = new AmiCallMapper({ devices: deviceMap(simDevices), mode });
  prepare?.(mapper);
  const events: MappedEvent[] = [];
  let now = 1_800_000_000_000;
  for (const frame of captureFrames(name)) mapper.push(frame, (now += 1), events);
  return { events, mapper };
}
