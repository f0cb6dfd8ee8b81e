// Method sites (tcp, http, dns) in the shared monitor state: a result counts for min_sites in
// every round until the site's next result, and for loss and RTT once.
import { describe, expect, it } from 'vitest';
import type { Echo, HealthSettings, Round } from '../../../src/core/health.js';
import { createMonitoring } from '../../../src/core/monitoring.js';
import type { Gateway } from '../../../src/core/types.js';

// Its port range does not matter here (H-probes' Gateway.probe.ports); the cast keeps this file valid with or without it.
const GATEWAY: Gateway = {
  name: 'isp1',
  dev: 'eth1',
  priority: 1,
  probe: { mark: 1, table: 195, ports: { from: 61000, to: 61063 } } as Gateway['probe'],
};
const SETTINGS: HealthSettings = {
  intervalMs: 1000,
  timeoutMs: 500,
  down: 3,
  up: 2,
  minSites: 2,
  windowMs: 100_000,
  lossDownPct: 100,
  lossUpPct: 100,
  carryMs: 20_000,
};
const PING = '198.51.100.1';
const TCP = 'tcp:203.0.113.10:443';
const HTTP = 'http://check.example.net/generate_204';

const echo = (site: string, answered: boolean, rttMs = 10): Echo => (answered ? { site, answered, rttMs } : { site, answered });

function watch(settings = SETTINGS) {
  const statuses: string[] = [];
  const monitoring = createMonitoring(0, {
    onDecisionNeeded: () => undefined,
    onHealthChange: () => undefined,
    onStatus: (change) => statuses.push(`${change.from}→${change.to}: ${change.reason}`),
  });
  monitoring.configure([GATEWAY], settings, 0);
  const feed = (rounds: Array<[number, Echo[]]>) => {
    for (const [at, echoes] of rounds) monitoring.round('isp1', { at, echoes } satisfies Round);
  };
  return { monitoring, statuses, feed };
}

describe('method sites in the monitor: carried results', () => {
  it.each([
    {
      case: 'min_sites 2: a tcp result that answered keeps counting in the rounds of pings after it',
      rounds: [
        [0, [echo(PING, true), echo(TCP, true)]],
        [1000, [echo(PING, true)]],
        [2000, [echo(PING, true)]],
      ] as Array<[number, Echo[]]>,
      status: 'up',
      statuses: ['unknown→up: up: 2/2 sites, loss 0 %, rtt 10 ms'],
    },
    {
      case: 'min_sites 2: a tcp result that failed makes the rounds after it bad until its next result',
      rounds: [
        [0, [echo(PING, true), echo(TCP, true)]],
        [1000, [echo(PING, true), echo(TCP, false)]],
        [2000, [echo(PING, true)]],
        [3000, [echo(PING, true)]],
      ] as Array<[number, Echo[]]>,
      status: 'down',
      statuses: ['unknown→up: up: 2/2 sites, loss 0 %, rtt 10 ms', 'up→down: down: at most 1/2 sites answered in 3 rounds, min_sites is 2'],
    },
    {
      case: 'its next good result brings the rounds back',
      rounds: [
        [0, [echo(PING, true), echo(TCP, false)]],
        [1000, [echo(PING, true)]],
        [2000, [echo(PING, true)]],
        [3000, [echo(PING, true), echo(TCP, true)]],
        [4000, [echo(PING, true)]],
      ] as Array<[number, Echo[]]>,
      status: 'up',
      statuses: [
        'unknown→down: down: at most 1/2 sites answered in 3 rounds, min_sites is 2',
        'down→up: up: 2/2 sites, loss 0 %, rtt 10 ms',
      ],
    },
    {
      case: 'a result older than carryMs no longer counts: min_sites falls back to the sites probed',
      rounds: [
        [0, [echo(PING, true), echo(TCP, false)]],
        [21_000, [echo(PING, true)]],
        [22_000, [echo(PING, true)]],
      ] as Array<[number, Echo[]]>,
      status: 'up',
      statuses: ['unknown→up: up: 1/1 sites, loss 100 %, rtt 10 ms'], // the tcp site's one probe, lost: min_sites 2 judges the second best site
    },
    {
      case: 'two method sites on their own (nothing to ping): each result is a round, the other carried',
      rounds: [
        [0, [echo(TCP, true)]],
        [500, [echo(HTTP, true)]],
        [5000, [echo(TCP, false)]],
        [5500, [echo(HTTP, true)]],
        [10_000, [echo(TCP, false)]],
        [10_500, [echo(HTTP, true)]],
      ] as Array<[number, Echo[]]>,
      status: 'down',
      // The first round has one site with a result: min_sites counts the sites probed.
      statuses: ['unknown→up: up: 1/1 sites, loss 0 %, rtt 10 ms', 'up→down: down: at most 1/2 sites answered in 3 rounds, min_sites is 2'],
    },
  ])('$case', ({ rounds, status, statuses }) => {
    const { monitoring, statuses: seen, feed } = watch();
    feed(rounds);
    expect(monitoring.health('isp1')?.status).toBe(status);
    expect(seen).toEqual(statuses);
  });

  it('loss and RTT count each real probe once; the observations tally only real probes', () => {
    const { monitoring, feed } = watch({ ...SETTINGS, minSites: 1 });
    feed([
      [0, [echo(PING, true, 10), echo(TCP, false)]],
      [1000, [echo(PING, true, 10)]],
      [2000, [echo(PING, true, 10)]],
      [3000, [echo(PING, true, 10), echo(TCP, true, 40)]],
    ]);
    const health = monitoring.health('isp1')!;
    // tcp: 1 of 2 real probes lost (not 3 of 4 rounds); rtt: (10 × 4 + 40) / 5.
    expect(health.lossPct).toBe(0); // the best min_sites (1) site: the ping, no loss
    expect(health.rttMeanMs).toBe(16);
    expect(health.lastEchoes).toEqual([echo(PING, true, 10), echo(TCP, true, 40)]);
    const sites = monitoring.observations(5000)!.isp1!.sites;
    expect(sites).toEqual([
      { site: PING, answered: true, sent: 4, replies: 4, rttMs: 10 },
      { site: TCP, answered: true, sent: 2, replies: 1, rttMs: 40 },
    ]);
  });

  it('a carried result shows in the last round, marked carried', () => {
    const { monitoring, feed } = watch();
    feed([
      [0, [echo(PING, true), echo(TCP, true, 30)]],
      [1000, [echo(PING, true)]],
    ]);
    expect(monitoring.health('isp1')!.lastEchoes).toEqual([echo(PING, true), { site: TCP, answered: true, rttMs: 30, carried: true }]);
  });

  it('a carrier loss forgets the carried results', () => {
    const { monitoring, feed } = watch();
    feed([[0, [echo(PING, true), echo(TCP, true)]]]);
    monitoring.link('isp1', { up: false, dev: 'eth1', at: 500 });
    monitoring.link('isp1', { up: true, dev: 'eth1', at: 600 });
    feed([[1000, [echo(PING, true)]]]);
    expect(monitoring.health('isp1')!.lastEchoes).toEqual([echo(PING, true)]);
  });
});
