import { describe, expect, it } from 'vitest';
import type { HealthSettings, Round } from '../../../src/core/health.js';
import { createMonitoring, monitoringGraceMs } from '../../../src/core/monitoring.js';
import type { Gateway } from '../../../src/core/types.js';

const GATEWAYS: Gateway[] = [
  { name: 'isp1', dev: 'eth1', priority: 1, probe: { mark: 1, table: 195, ports: { from: 61000, to: 61063 } } },
  { name: 'isp2', dev: 'eth2', priority: 2, probe: { mark: 2, table: 196, ports: { from: 61064, to: 61127 } } },
];
const SETTINGS: HealthSettings = {
  intervalMs: 1000,
  timeoutMs: 500,
  down: 2,
  up: 2,
  minSites: 1,
  windowMs: 10_000,
  lossDownPct: 100,
  lossUpPct: 100,
};

const good = (at: number, rttMs = 10): Round => ({
  at,
  echoes: [
    { site: 'a', answered: true, rttMs },
    { site: 'b', answered: true, rttMs },
  ],
});
const bad = (at: number): Round => ({
  at,
  echoes: [
    { site: 'a', answered: false },
    { site: 'b', answered: false },
  ],
});

function watch() {
  const calls = { decisions: 0, changes: [] as string[], statuses: [] as string[] };
  const monitoring = createMonitoring(0, {
    onDecisionNeeded: () => calls.decisions++,
    onHealthChange: (change) => calls.changes.push(`${change.gateway} ${change.from}→${change.to}`),
    onStatus: (change) => calls.statuses.push(`${change.gateway} ${change.from}→${change.to}`),
  });
  monitoring.configure(GATEWAYS, SETTINGS, 0);
  return { monitoring, calls };
}

describe('createMonitoring (the monitor state the daemon and replay share)', () => {
  it('no observations until every gateway is known, then one decision; usable ↔ unusable asks for another', () => {
    const { monitoring, calls } = watch();
    monitoring.round('isp1', good(0));
    expect(monitoring.observations(100)).toBeUndefined();
    expect(calls.decisions).toBe(1); // isp1 became usable
    monitoring.round('isp2', good(0));
    expect(monitoring.allKnown).toBe(true);
    expect(calls.decisions).toBe(3); // isp2 usable, and every gateway known
    monitoring.round('isp1', bad(1000));
    monitoring.round('isp1', bad(2000));
    expect(calls.decisions).toBe(4);
    expect(calls.statuses).toEqual(['isp1 unknown→up', 'isp2 unknown→up', 'isp1 up→down']);
    // Usable ↔ unusable is the decision's to log: no health line for it.
    expect(calls.changes).toEqual([]);
  });

  it('observations: each gateway as the decision sees it, with what its sites answered since the last call', () => {
    const { monitoring } = watch();
    monitoring.round('isp1', good(0, 10));
    monitoring.round('isp1', {
      at: 1000,
      echoes: [
        { site: 'a', answered: true, rttMs: 30 },
        { site: 'b', answered: false },
      ],
    });
    monitoring.round('isp2', good(0));
    const observations = monitoring.observations(2000)!;
    expect(observations.isp1).toMatchObject({
      up: true,
      sites: [
        { site: 'a', answered: true, sent: 2, replies: 2, rttMs: 20 },
        { site: 'b', answered: true, sent: 2, replies: 1, rttMs: 10 },
      ],
    });
    // Taken: the next call has only the sites of the last round.
    expect(monitoring.observations(3000)!.isp1!.sites.map((site) => site.sent)).toEqual([1, 1]);
  });

  it('without site tallies (a replay): the same health and reasons, the sites those of the newest round', () => {
    const rounds: Array<[string, Round]> = [
      ['isp1', good(0, 10)],
      ['isp2', good(0)],
      [
        'isp1',
        {
          at: 1000,
          echoes: [
            { site: 'a', answered: true, rttMs: 30 },
            { site: 'b', answered: false },
          ],
        },
      ],
      ['isp1', bad(2000)],
    ];
    const tallied = watch().monitoring;
    const untallied = createMonitoring(0, { onDecisionNeeded: () => undefined, onHealthChange: () => undefined }, { siteTallies: false });
    untallied.configure(GATEWAYS, SETTINGS, 0);
    for (const [name, round] of rounds) {
      tallied.round(name, round);
      untallied.round(name, round);
    }
    const withTallies = tallied.observations(3000)!;
    const without = untallied.observations(3000)!;
    for (const name of ['isp1', 'isp2']) expect({ ...without[name], sites: [] }).toEqual({ ...withTallies[name], sites: [] });
    expect(withTallies.isp1!.sites.map((site) => site.sent)).toEqual([3, 3]);
    expect(without.isp1!.sites).toEqual([
      { site: 'a', answered: false, replies: 0, sent: 1 },
      { site: 'b', answered: false, replies: 0, sent: 1 },
    ]);
  });

  it('after the grace, a gateway never probed counts as down', () => {
    const { monitoring } = watch();
    monitoring.round('isp1', good(0));
    const grace = monitoringGraceMs(SETTINGS);
    expect(monitoring.observations(grace - 1)).toBeUndefined();
    expect(monitoring.observations(grace)!.isp2).toMatchObject({ up: false, reason: 'no probe result yet' });
  });

  it('carrier loss: down at once; back: true (to repair and probe), still down until good rounds', () => {
    const { monitoring, calls } = watch();
    monitoring.round('isp1', good(0));
    monitoring.round('isp2', good(0));
    const before = calls.decisions;
    expect(monitoring.link('isp1', { up: false, dev: 'eth1', at: 5000 })).toBe(false);
    expect(monitoring.health('isp1')!.status).toBe('down');
    expect(calls.decisions).toBe(before + 1);
    expect(monitoring.link('isp1', { up: true, dev: 'eth1', at: 6000 })).toBe(true);
    expect(monitoring.link('isp1', { up: true, dev: 'eth1', at: 6100 })).toBe(false);
    expect(monitoring.health('isp1')!.status).toBe('down');
  });

  it('a reload: new gateways start unknown, removed ones are forgotten and their rounds ignored', () => {
    const { monitoring } = watch();
    monitoring.round('isp1', good(0));
    monitoring.configure(
      [GATEWAYS[0]!, { name: 'lte', dev: 'ppp0', priority: 3, probe: { mark: 3, table: 197, ports: { from: 61128, to: 61191 } } }],
      SETTINGS,
      500,
    );
    monitoring.round('isp2', good(1000));
    expect(monitoring.health('isp2')).toBeUndefined();
    expect(monitoring.health('lte')).toMatchObject({ status: 'unknown', since: 500 });
    expect(monitoring.health('isp1')!.status).toBe('up');
  });
});
