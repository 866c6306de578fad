/**
 * What `npm start` shows a person at a terminal (a real pseudo-terminal, through util-linux
 * `script`): the URLs and the password, then one short line per call event, and no request log.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { formatPhone } from '../../src/cli/call-feed.ts';
import { bridgeBin, tempDir, waitFor } from './processes.ts';

const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;
const tmp = tempDir('b24-demo-tty-');
let child: ChildProcess | undefined;

afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((resolve) => child?.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
  tmp.cleanup();
});

describe('phone numbers in the call lines', () => {
  it('are grouped as people write them', () => {
    expect(formatPhone('+79161234567')).toBe('+7 916 123-45-67');
    expect(formatPhone('79031112233')).toBe('+7 903 111-22-33');
    expect(formatPhone('+4930123456')).toBe('+4930123456');
    expect(formatPhone('')).toBe('a withheld number');
  });
});

describe.skipIf(!hasScript)('the demo on a terminal', () => {
  it('prints the URLs and the password, then a line per call event, and no request log', async () => {
    let out = '';
    const command = `${JSON.stringify(process.execPath)} ${JSON.stringify(bridgeBin)} demo --port 0 --emulator-port 0 --no-simulator`;
    child = spawn('script', ['-qfec', command, '/dev/null'], {
      env: { ...process.env, TMPDIR: tmp.dir, B24_BRIDGE_LOG_LEVEL: '' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    const bridge = await waitFor('the banner', () =>
      Promise.resolve(/admin:\s+(http:\/\/\S+?)\/?\s/.exec(out)?.[1]),
    );
    expect(out).toContain('(password: demo-admin)');
    expect(out).toMatch(/emulator: +http:\/\/127\.0\.0\.1:\d+\/_emulator\//);
    expect(out).toContain('Calls as they happen');

    const start = Date.now();
    const at = (ms: number): string => new Date(start + ms).toISOString();
    const send = (events: unknown[]) =>
      fetch(`${bridge}/pbx/v1/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer demo-token' },
        body: JSON.stringify(events),
      });
    // A call to Anna's extension, answered and recorded; one to Boris that nobody answers.
    expect(
      (
        await send([
          {
            type: 'call.started',
            callId: 'tty-1',
            direction: 'inbound',
            from: '+79161234567',
            to: '101',
            at: at(0),
          },
          { type: 'call.ringing', callId: 'tty-1', extensions: ['101'], at: at(100) },
          {
            type: 'call.started',
            callId: 'tty-2',
            direction: 'inbound',
            from: '+79035550011',
            to: '102',
            at: at(0),
          },
          { type: 'call.ringing', callId: 'tty-2', extensions: ['102'], at: at(100) },
        ])
      ).status,
    ).toBe(202);
    await waitFor('both cards', () =>
      Promise.resolve(out.match(/card shown in \d+ ms/g)?.length === 2 ? true : undefined),
    );
    await send([
      { type: 'call.answered', callId: 'tty-1', extension: '101', at: at(1000) },
      { type: 'call.ended', callId: 'tty-1', reason: 'completed', at: at(22_000) },
      {
        type: 'recording.ready',
        callId: 'tty-1',
        contentBase64: Buffer.from('RIFF\x24\x00\x00\x00WAVEfmt ').toString('base64'),
        filename: 'tty-1.wav',
        at: at(23_000),
      },
      { type: 'call.ended', callId: 'tty-2', reason: 'no_answer', at: at(20_000) },
    ]);
    await waitFor(
      'both calls logged',
      () => Promise.resolve(/with the recording/.test(out) && /as missed/.test(out) ? true : undefined),
      20_000,
    );
    const lines = out.replace(/\r/g, '').split('\n');
    const anna = lines.filter((l) => l.includes('+7 916 123-45-67 → Anna Ivanova (101):'));
    expect(
      anna.map((l) => l.replace(/^\d\d:\d\d:\d\d {2}\+7 916 123-45-67 → Anna Ivanova \(101\): /, '')),
    ).toEqual([
      expect.stringMatching(/^card shown in \d+ ms$/),
      'answered',
      'ended after 21 s',
      expect.stringMatching(/^logged on (a new )?[a-z]+ \d+, with the recording$/),
    ]);
    const boris = lines.filter((l) => l.includes('+7 903 555-00-11 → Boris Smirnov (102):'));
    expect(boris.map((l) => l.replace(/^.*\(102\): /, ''))).toEqual([
      expect.stringMatching(/^card shown in \d+ ms$/),
      'missed: nobody answered',
      expect.stringMatching(/^logged .* as missed$/),
    ]);
    // Requests are logged at debug only: none of them on the person's screen.
    expect(out).not.toContain('incoming request');
    expect(out).not.toContain('"msg"');
  }, 60_000);
});
