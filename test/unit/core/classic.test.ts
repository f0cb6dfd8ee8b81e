import { describe, expect, it } from 'vitest';
import { replayClassic } from '../../../src/core/classic.js';
import type { ProbeEvent } from '../../../src/core/probe-events.js';
import type { Gateway } from '../../../src/core/types.js';

const GATEWAYS: Gateway[] = [
  { name: 'isp1', ip: '192.0.2.1', priority: 1, probe: { mark: 1, table: 195, ports: { from: 61000, to: 61063 } } },
  { name: 'isp2', ip: '198.51.100.1', priority: 2, probe: { mark: 2, table: 196, ports: { from: 61064, to: 61127 } } },
];
const SETUP = { gateways: GATEWAYS, minUptimeMs: 60_000, checkAllGateways: false, mode: 'auto' };

function rounds(gateway: string, toMs: number, dead: (at: number) => boolean = () => false): ProbeEvent[] {
  const events: ProbeEvent[] = [];
  for (let at = 0; at < toMs; at += 500) {
    const answered = !dead(at);
    const echo = answered ? { site: '203.0.113.10', answered, rttMs: 10 } : { site: '203.0.113.10', answered };
    events.push({ kind: 'round', gateway, at, settledAt: at + (answered ? 10 : 500), echoes: [echo] });
  }
  return events;
}

describe('replayClassic (NetGWM: a run a minute, ping -c 2 -W 1, min_uptime)', () => {
  it('fails over at the next run after the pings, and back only when the better one was up for more than min_uptime', () => {
    const events = [...rounds('isp1', 300_000, (at) => at >= 20_000 && at < 40_000), ...rounds('isp2', 300_000)];
    const run = replayClassic(SETUP, events, { startAt: 0, endAt: 300_000, start: 'isp1' });
    // Runs at 30 s, 90 s, …: isp1's two echoes lost (2 s), isp2 answers its first (1 s + 10 ms).
    // isp1 is seen up again at the 90 s run; more than 60 s later is the 210 s run, which pings
    // isp2 (the current one) then isp1.
    expect(run.switches.map((entry) => [entry.at, entry.from, entry.to])).toEqual([
      [33_010, 'isp1', 'isp2'],
      [212_020, 'isp2', 'isp1'],
    ]);
  });

  it('a gateway never seen is stable at once (as NetGWM): the first run moves to the best one up', () => {
    const run = replayClassic(SETUP, [...rounds('isp1', 100_000), ...rounds('isp2', 100_000)], {
      startAt: 0,
      endAt: 100_000,
      start: 'isp2',
    });
    expect(run.switches.map((entry) => [entry.at, entry.to])).toEqual([[32_020, 'isp1']]);
  });

  it('nothing up: nothing moves', () => {
    const dead = () => true;
    const run = replayClassic(SETUP, [...rounds('isp1', 100_000, dead), ...rounds('isp2', 100_000, dead)], {
      startAt: 0,
      endAt: 100_000,
      start: 'isp1',
    });
    expect(run.switches).toEqual([]);
  });
});
