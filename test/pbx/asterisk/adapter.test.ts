import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AsteriskAdapter, type AsteriskAdapterOptions } from '../../../src/pbx/asterisk/index.ts';
import { AmiClient } from '../../../src/pbx/asterisk/client.ts';
import { PbxError, type PbxEvent, type PbxEventSink } from '../../../src/pbx/index.ts';
import { captureMessages, FakeAmi } from './fake-ami.ts';
import { fakeAmiSettings, line, simDevices } from './helpers.ts';

/** A sink that keeps what it is given, and can refuse the next deliveries. */
export class CollectingSink implements PbxEventSink {
  readonly events: PbxEvent[] = [];
  refuse = 0;
  private waiters: { test: (events: PbxEvent[]) => boolean; resolve: () => void }[] = [];
  deliver(events: readonly PbxEvent[]): Promise<void> {
    if (this.refuse > 0) {
      this.refuse--;
      return Promise.reject(Object.assign(new Error('store down'), { code: 'STORE_DOWN' }));
    }
    this.events.push(...events);
    this.waiters = this.waiters.filter((w) => {
      if (!w.test(this.events)) return true;
      w.resolve();
      return false;
    });
    return Promise.resolve();
  }
  route(): Promise<never[]> {
    return Promise.resolve([]);
  }
  /** Resolves once the events delivered so far pass `test`. */
  until(test: (events: PbxEvent[]) => boolean): Promise<void> {
    if (test(this.events)) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ test, resolve }));
  }
  ended(n = 1): Promise<void> {
    return this.until((events) => events.filter((e) => e.type === 'call.ended').length >= n);
  }
}

let ami: FakeAmi;
let adapter: AsteriskAdapter | undefined;
const cleanups: (() => void)[] = [];

afterEach(async () => {
  await adapter?.stop();
  adapter = undefined;
  await ami.close();
  for (const c of cleanups.splice(0)) c();
});

async function boot(
  sink: PbxEventSink,
  extra: Partial<AsteriskAdapterOptions> = {},
  ami_: Partial<AsteriskAdapterOptions['ami']> = {},
): Promise<AsteriskAdapter> {
  ami = await FakeAmi.start();
  const a = new AsteriskAdapter({
    pbxId: 'office',
    ami: { ...fakeAmiSettings(ami), context: 'from-internal', ...ami_ },
    retry: { minDelayMs: 5, maxDelayMs: 50 },
    deliveryRetry: { minDelayMs: 5, maxDelayMs: 20 },
    pingIntervalMs: 0,
    ...extra,
  });
  adapter = a;
  const synced = once(a, 'synced');
  await a.start(sink);
  await synced;
  return a;
}

describe('AMI client', () => {
  it('an action answered "Response: Error" rejects with AMI_ACTION_FAILED, the link stays up', async () => {
    ami = await FakeAmi.start();
    const client = new AmiClient({
      host: '127.0.0.1',
      port: ami.port,
      username: 'bridge',
      secret: 'amisecret',
    });
    const up = once(client, 'up');
    client.start();
    await up;
    await expect(client.action('NoSuchAction')).rejects.toMatchObject({
      code: 'AMI_ACTION_FAILED',
      action: 'NoSuchAction',
    });
    expect((await client.action('Ping')).response.Ping).toBe('Pong');
    await client.close();
  });

  it('settles each action by its own ActionID, and a list answer as one result', async () => {
    ami = await FakeAmi.start();
    // Answers in the reverse order of asking: a client taking "the next Response" would mix them up.
    const held: { id: string; socket: import('node:net').Socket }[] = [];
    ami.handlers.set('Status', (a, socket) => {
      held.push({ id: a.ActionID ?? '', socket });
      if (held.length < 2) return;
      for (const h of held.reverse()) ami.reply(h.socket, h.id, `Message: for ${h.id}\r\n`);
    });
    const client = new AmiClient({
      host: '127.0.0.1',
      port: ami.port,
      username: 'bridge',
      secret: 'amisecret',
    });
    const up = once(client, 'up');
    client.start();
    await up;
    const [a, b] = await Promise.all([
      client.action('Status', {}, { actionId: 'first' }),
      client.action('Status', {}, { actionId: 'second' }),
    ]);
    expect(a.response.Message).toBe('for first');
    expect(b.response.Message).toBe('for second');
    ami.send(captureMessages('01-inbound-direct').slice(1, 12));
    const list = await client.action('CoreShowChannels');
    expect(list.events.map((e) => e.Channel)).toEqual([
      'Local/101@from-pstn-00000000;1',
      'Local/101@from-pstn-00000000;2',
    ]);
    await client.close();
  });

  it('keeps repeated keys, and a refused login is retried until it is accepted', async () => {
    ami = await FakeAmi.start();
    ami.secret = 'other';
    const client = new AmiClient({
      host: '127.0.0.1',
      port: ami.port,
      username: 'bridge',
      secret: 'amisecret',
      retry: { minDelayMs: 5, maxDelayMs: 10 },
    });
    const down = once(client, 'down');
    client.start();
    const [error] = (await down) as [{ code: string; message: string }];
    expect(error.code).toBe('AMI_LOGIN_FAILED');
    expect(error.message).not.toContain('amisecret');
    ami.secret = 'amisecret';
    await once(client, 'up');
    const event = once(client, 'event');
    ami.send(['Event: Status\r\nChannel: PJSIP/101-1\r\nChanVariable: A=1\r\nChanVariable: B=2']);
    const [frame] = (await event) as [Record<string, unknown>];
    expect(frame.ChanVariable).toEqual(['A=1', 'B=2']);
    await client.close();
  });
});

describe('Asterisk adapter against a fake AMI replaying real captures', () => {
  it("delivers a call's events into the sink, in order", async () => {
    const sink = new CollectingSink();
    await boot(sink);
    ami.send(captureMessages('01-inbound-direct'));
    await sink.ended();
    expect(sink.events.map(line)).toEqual([
      'started inbound +79161234567 → 101',
      'ringing 101',
      'answered 101',
      'ended completed',
    ]);
  });

  it('cutting the link mid-call and reconnecting loses no call and doubles none', async () => {
    const sink = new CollectingSink();
    const a = await boot(sink);
    const messages = captureMessages('01-inbound-direct');
    // Up to the moment both sides are in the bridge, talking.
    const talking = messages.findIndex((m) => m.includes('BridgeNumChannels: 2')) + 1;
    ami.send(messages.slice(0, talking));
    await sink.until((events) => events.some((e) => e.type === 'call.answered'));
    const resynced = once(a, 'synced');
    ami.drop();
    const [info] = (await resynced) as [{ reconnect: boolean; channels: number }];
    expect(info).toEqual({ reconnect: true, channels: 4 });
    expect(ami.logins).toBe(2);
    ami.send(messages.slice(talking));
    await sink.ended();
    expect(sink.events.map(line)).toEqual([
      'started inbound +79161234567 → 101',
      'ringing 101',
      'answered 101',
      'ended completed',
    ]);
  });

  it('a call that ends while the link is down is ended once, by the channel list', async () => {
    const sink = new CollectingSink();
    const a = await boot(sink);
    const messages = captureMessages('03-queue-ringall');
    const ringing = messages.findIndex((m) => m.includes('Event: QueueMemberStatus'));
    ami.send(messages.slice(0, ringing));
    await sink.until((events) => events.filter((e) => e.type === 'call.ringing').length === 3);
    ami.drop();
    // Meanwhile on the PBX: the caller gave up; nothing of it reaches the bridge.
    for (const m of messages.slice(ringing)) (ami as unknown as { track(m: string): void }).track(m);
    await once(a, 'synced');
    await sink.ended();
    expect(sink.events.map(line)).toEqual([
      'started inbound +79161234567 → 600',
      'ringing 201',
      'ringing 202',
      'ringing 203',
      'ring_stopped 201',
      'ring_stopped 202',
      'ring_stopped 203',
      'ended cancelled',
    ]);
    expect(a.mapper.liveCalls).toBe(0);
  });

  it('a call that began while the link was down is found by the channel list', async () => {
    const sink = new CollectingSink();
    ami = await FakeAmi.start();
    const messages = captureMessages('01-inbound-direct');
    const talking = messages.findIndex((m) => m.includes('BridgeNumChannels: 2')) + 1;
    for (const m of messages.slice(0, talking)) (ami as unknown as { track(m: string): void }).track(m);
    const port = ami.port;
    const a = new AsteriskAdapter({
      pbxId: 'office',
      ami: { host: '127.0.0.1', port, username: 'bridge', secret: 'amisecret', devicePattern: simDevices },
      pingIntervalMs: 0,
    });
    adapter = a;
    const synced = once(a, 'synced');
    await a.start(sink);
    await synced;
    ami.send(messages.slice(talking));
    await sink.ended();
    expect(sink.events.map(line)).toEqual([
      'started inbound +79161234567 → 101',
      'answered 101',
      'ended completed',
    ]);
  });

  it('events the sink refuses are offered again, in order, none lost', async () => {
    const sink = new CollectingSink();
    sink.refuse = 2;
    await boot(sink);
    ami.send(captureMessages('10-inbound-missed-caller-hangup'));
    await sink.ended();
    expect(sink.events.map(line)).toEqual([
      'started inbound +79161234567 → 104',
      'ringing 104',
      'ring_stopped 104',
      'ended cancelled',
    ]);
  });

  it('holds at most maxQueued events in memory while the sink refuses them: the oldest go, told', async () => {
    const sink = new CollectingSink();
    sink.refuse = Number.MAX_SAFE_INTEGER;
    const warnings: string[] = [];
    const a = await boot(sink, {
      maxQueued: 2,
      log: (level, message) => void warnings.push(`${level} ${message}`),
    });
    let dropped = 0;
    a.on('dropped', (n) => (dropped += n));
    ami.send(captureMessages('01-inbound-direct'));
    await vi.waitFor(() => expect(dropped).toBe(2));
    sink.refuse = 0;
    await sink.ended();
    expect(sink.events).toHaveLength(2);
    expect(sink.events.map(line).at(-1)).toBe('ended completed');
    expect(warnings.filter((w) => w.includes('oldest are dropped'))).toHaveLength(1);
  });

  it('ends, after the resync, the open calls the PBX no longer has (one that ended under another instance)', async () => {
    const sink = new CollectingSink();
    ami = await FakeAmi.start();
    // A call still up on the PBX, and one the bridge holds open that ended while no link was up.
    const live = captureMessages('01-inbound-direct');
    const talking = live.findIndex((m) => m.includes('BridgeNumChannels: 2')) + 1;
    ami.send(live.slice(0, talking));
    const liveId =
      /^Linkedid: (\S+)$/m.exec(live.find((m) => m.startsWith('Event: Newchannel')) ?? '')?.[1] ?? '';
    const a = new AsteriskAdapter({
      pbxId: 'office',
      ami: fakeAmiSettings(ami),
      retry: { minDelayMs: 5, maxDelayMs: 50 },
      pingIntervalMs: 0,
      openCalls: () => [liveId, 'ended-meanwhile'],
    });
    adapter = a;
    const synced = once(a, 'synced');
    await a.start(sink);
    await synced;
    await sink.until((events) => events.some((e) => e.type === 'call.ended'));
    expect(sink.events.filter((e) => e.type === 'call.ended').map((e) => e.callId)).toEqual([
      'ended-meanwhile',
    ]);
    expect(sink.events.some((e) => e.type === 'call.started' && e.callId === liveId)).toBe(true);
  });

  it("originate: Originate with the device and context, the call reported under the command's id, once", async () => {
    const sink = new CollectingSink();
    const a = await boot(sink, {}, { recordings: { urlBase: 'https://pbx.example.com/rec/' } });
    const messages = captureMessages('07-click-to-call');
    ami.handlers.set('Originate', (action) => {
      const id = action.ActionID ?? '';
      const channelId = action.ChannelId ?? '';
      ami.send(
        messages.map((m) =>
          m
            .replaceAll('ActionID: cap-9', `ActionID: ${id}`)
            .replaceAll('c2c-0001-a', channelId)
            .replaceAll('c2c-0001-b', `${channelId}-2`),
        ),
      );
    });
    const command = {
      commandId: 'cmd-1',
      type: 'originate',
      callId: 'engine-7',
      extension: '101',
      number: '+74957654321',
    } as const;
    await Promise.all([a.execute(command), a.execute(command)]);
    await a.execute(command);
    await sink.until((events) => events.some((e) => e.type === 'recording.ready'));
    const originates = ami.actions.filter((x) => x.Action === 'Originate');
    expect(originates).toHaveLength(1);
    expect(originates[0]).toMatchObject({
      Channel: 'PJSIP/101',
      Context: 'from-internal',
      Exten: '+74957654321',
      Async: 'true',
    });
    expect(sink.events.map(line)).toEqual([
      'started outbound 101 → +74957654321',
      'ringing 101',
      'answered 101',
      'ended completed',
      `recording 20261123-231511-101-74957654321-${originates[0]?.ChannelId ?? ''}.wav`,
    ]);
    expect(new Set(sink.events.map((e) => e.callId))).toEqual(new Set(['engine-7']));
    const recording = sink.events.at(-1);
    expect(recording?.type === 'recording.ready' && recording.url).toMatch(
      /^https:\/\/pbx\.example\.com\/rec\/20261123-231511-101-74957654321-b24-[0-9a-f]+\.wav$/,
    );
  });

  it("transfer: Redirect of the caller's channel, reported as transferred; an unknown call is refused", async () => {
    const sink = new CollectingSink();
    const a = await boot(sink);
    const messages = captureMessages('13-inbound-redirect');
    const redirect = messages.findIndex((m) => m.includes('Message: Redirect successful'));
    ami.send(messages.slice(0, redirect));
    await sink.until((events) => events.length >= 1);
    await expect(
      a.execute({ commandId: 't-0', type: 'transfer', callId: 'nope', extension: '102' }),
    ).rejects.toMatchObject({ code: 'COMMAND_REJECTED' });
    ami.handlers.set('Redirect', (action) => {
      ami.send([messages[redirect]!.replace('ActionID: cap-16', `ActionID: ${action.ActionID ?? ''}`)]);
      ami.send(messages.slice(redirect + 1));
    });
    await a.execute({ commandId: 't-1', type: 'transfer', callId: '1795475757.64', extension: '102' });
    await sink.ended();
    expect(ami.actions.filter((x) => x.Action === 'Redirect')).toEqual([
      expect.objectContaining({
        Channel: 'Local/200@from-pstn-00000020;2',
        Context: 'from-internal',
        Exten: '102',
        Priority: '1',
      }),
    ]);
    expect(sink.events.map(line)).toEqual([
      'started inbound +79161234567 → 200',
      'transferred 102',
      'ringing 102',
      'answered 102',
      'ended completed',
    ]);
  });

  it('a command without a link is refused as PBX_UNREACHABLE, with the AMI error as cause', async () => {
    const sink = new CollectingSink();
    const a = await boot(sink);
    await ami.close();
    await once(a, 'down');
    const error = await a
      .execute({ commandId: 'o-2', type: 'originate', callId: 'c', extension: '101', number: '1' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PbxError);
    expect(error).toMatchObject({ code: 'PBX_UNREACHABLE', cause: { code: 'AMI_NOT_CONNECTED' } });
  });

  it('recordings from a local directory: read once complete, stored, passed on by reference', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ami-rec-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, '20261123-231357-79161234567-102-1795475637.5.wav'), Buffer.from('RIFF....WAVE'));
    const stored: { callId: string; filename: string | undefined; size: number }[] = [];
    const sink = new CollectingSink();
    await boot(
      sink,
      {
        storeRecording: (upload) => {
          stored.push({ callId: upload.callId, filename: upload.filename, size: upload.content.length });
          return Promise.resolve('ref-1');
        },
      },
      { recordings: { dir } },
    );
    ami.send(captureMessages('02-inbound-recorded'));
    await sink.until((events) => events.some((e) => e.type === 'recording.ready'));
    expect(stored).toEqual([
      { callId: '1795475637.4', filename: '20261123-231357-79161234567-102-1795475637.5.wav', size: 12 },
    ]);
    expect(sink.events.at(-1)).toMatchObject({ type: 'recording.ready', contentRef: 'ref-1' });
  });

  it('garbage on the wire costs nothing: the next call is mapped all the same', async () => {
    const sink = new CollectingSink();
    await boot(sink);
    ami.sendRaw(Buffer.from([0xff, 0xfe, 0x00, 0x0a, 0x3a, 0x0d, 0x0a, 0x0d, 0x0a]));
    ami.sendRaw('Event: Hangup\r\nUniqueid\r\n: x\r\n__proto__: y\r\nconstructor: z\r\n\r\n');
    ami.send(captureMessages('12-inbound-busy'));
    await sink.ended();
    expect(sink.events.map(line)).toEqual(['started inbound +79161234567 → 103', 'ended busy']);
  });
});
