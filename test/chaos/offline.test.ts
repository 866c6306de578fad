import { runJson } from './run-json.ts';
import { describe, expect, it } from 'vitest';

/**
 * The short outbound-only chaos run: `npm run chaos -- --events offline`, the emulated portal
 * unable to reach the bridge at all (it reads the offline queue), 16 calls over 10 s while the
 * bridge is SIGKILLed and kept dead 8 s each time, clicks made the moment it dies and as it starts
 * again, 500s, late answers, 10 s tokens and a limit burst; the PBX hands its recordings to the
 * bridge, which uploads them (about 50 s). A click made while the bridge was down
 * waits in the portal's queue: it is dialled if still fresh (6 s here) and otherwise finished as
 * not connected; none is left open, none lost, doubled or logged to the wrong person.
 */
describe('a short outbound-only chaos run', () => {
  it('leaves no click open, and loses, doubles and misattributes nothing', async () => {
    const args = [
      '--import',
      'tsx',
      'chaos/main.ts',
      '--events',
      'offline',
      '--calls',
      '16',
      '--feed-sec',
      '10',
      '--kill-every',
      '4',
      '--down-sec',
      '8',
      '--click-fresh-sec',
      '6',
      '--outage-sec',
      '0',
      '--token-ttl',
      '10',
      '--limit-every',
      '8',
      '--limit-sec',
      '3',
      '--drain-timeout',
      '45',
      '--json',
    ];
    const { figures, out, err, code } = await runJson<Record<string, number | boolean>>(args);
    expect(figures, out).toMatchObject({
      lost: 0,
      duplicates: 0,
      wrongUser: 0,
      secretsInLogs: 0,
      clicksLeftOpen: 0,
      // The bridge uploaded every recording the PBX handed it.
      missingRecording: 0,
      // Nothing reaches the bridge from the portal: every click is read from the queue.
      clicksUndelivered: 0,
    });
    expect(figures.finished).toBe(figures.calls);
    expect(figures.bridgeKills).toBeGreaterThanOrEqual(1);
    // At least the click at the kill and the one at the restart.
    expect(figures.clicksWhileDown).toBeGreaterThanOrEqual(2);
    // The click made as the bridge died is read 8 s later at least: older than 6 s, not dialled.
    expect(figures.clicksNotConnected).toBeGreaterThanOrEqual(1);
    // Every click either rang the PBX or was finished as not connected.
    expect(Number(figures.clicksDialled) + Number(figures.clicksNotConnected)).toBe(figures.clicks);
    expect(figures.drained).toBe(true);
    expect(code, err).toBe(0);
  }, 120_000);
});
