// Every shipped scenario (examples/scenarios/) replayed with the shipped config, every probe
// setting at its default: the switches and the summary, and issue 11's targets for the defaults.
import { beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../../src/config/load.js';
import type { Truth } from '../../../src/core/scenario.js';
import type { ReplayReport } from '../../../src/replay/cli.js';
import { replayBoth, SCENARIOS, scenarioFiles, shippedConfig } from '../../../scripts/replay-table.js';

const MIN = 60_000;
let config: Config;
const results = new Map<string, { netgwm: ReplayReport; classic: ReplayReport; truth: Truth }>();

beforeAll(async () => {
  config = await shippedConfig();
  for (const file of await scenarioFiles()) {
    results.set(file.replace(SCENARIOS, '').replace(/\.yml$/, ''), await replayBoth(config, file));
  }
}, 600_000); // a hang guard: the replays take about 40 s on a loaded 2-core machine

const get = (name: string) => results.get(name)!;
const switches = (report: ReplayReport) => report.switches.map((entry) => [entry.from, entry.to]);

/** Each moment the route's gateway went dead with another gateway alive, and how long until the route left it (s). */
function outageExits(report: ReplayReport, truth: Truth): number[] {
  const exits: number[] = [];
  for (const [gateway, { dead }] of Object.entries(truth)) {
    for (const outage of dead) {
      const onIt = routeAt(report, outage.from) === gateway;
      const othersAlive = Object.entries(truth).some(
        ([other, t]) => other !== gateway && !t.dead.some((d) => d.from <= outage.from && d.to > outage.from),
      );
      if (!onIt || !othersAlive) continue;
      const leave = report.switches.find((entry) => entry.at >= outage.from && entry.from === gateway);
      exits.push(leave ? (leave.at - outage.from) / 1000 : Number.POSITIVE_INFINITY);
    }
  }
  return exits;
}

function routeAt(report: ReplayReport, at: number): string | undefined {
  let on = report.start;
  for (const entry of report.switches) if (entry.at <= at) on = entry.to;
  return on;
}

describe('the shipped scenarios with the default config (issue 11 point 5)', () => {
  it('every scenario replays, and no failback comes before min_uptime, by the monitor and by the truth', () => {
    expect([...results.keys()]).toEqual([
      'all-down',
      'blips-2s',
      'blips-short',
      'flapping-primary',
      'hard-outage',
      'latency-spike',
      'loss-10',
      'loss-30',
      'site-dead',
      'slow-recovery',
    ]);
    const priority = (name: string) => config.gateways.find((gateway) => gateway.name === name)!.priority;
    for (const { netgwm, truth } of results.values()) {
      for (const entry of netgwm.switches) {
        if (entry.from === undefined || priority(entry.to) > priority(entry.from)) continue;
        // Usable since the last change from unusable (up ↔ degraded keeps it usable).
        const usable = (status: string) => status === 'up' || status === 'degraded';
        const changes = netgwm.health.filter((change) => change.gateway === entry.to && change.at <= entry.at);
        expect(usable(changes.at(-1)!.to)).toBe(true);
        const upSince = changes.filter((change) => usable(change.to) && !usable(change.from)).at(-1)!;
        expect(entry.at - upSince.at).toBeGreaterThanOrEqual(config.min_uptime * 1000);
        const bad = [...truth[entry.to]!.dead, ...truth[entry.to]!.impaired].filter((interval) => interval.from < entry.at);
        for (const interval of bad) expect(entry.at - interval.to).toBeGreaterThanOrEqual(config.min_uptime * 1000);
      }
    }
  });

  it('0 switches: one site dead everywhere, blips shorter than the detection window, 10 % random loss, a latency spike', () => {
    for (const name of ['site-dead', 'blips-short', 'loss-10', 'latency-spike']) {
      expect(get(name).netgwm.summary.switches, name).toBe(0);
      expect(get(name).netgwm.summary.worseSeconds, name).toBe(0);
    }
    // The blips themselves are dead time no policy can avoid: 120 × 0.25 s.
    expect(get('blips-short').netgwm.summary.deadSeconds).toBe(30);
  });

  // Loss is judged per site (the best min_sites ones): a dead check site is not 50 % loss on every uplink.
  it('one site dead everywhere leaves every gateway up', () => {
    expect(get('site-dead').netgwm.health.filter((change) => change.to === 'down')).toEqual([]);
  });

  it('hard outages and carrier loss are left within 1.5 s, and the route returns min_uptime after each', () => {
    const { netgwm, truth } = get('hard-outage');
    expect(switches(netgwm)).toEqual([
      ['isp1', 'isp2'],
      ['isp2', 'isp1'],
      ['isp1', 'isp2'],
      ['isp2', 'isp1'],
      ['isp1', 'isp2'],
      ['isp2', 'isp1'],
    ]);
    const exits = outageExits(netgwm, truth);
    expect(exits).toHaveLength(3);
    for (const exit of exits) expect(exit).toBeLessThanOrEqual(1.5);
    // Carrier loss: at once (one cycle).
    expect(exits[1]).toBeLessThanOrEqual(0.1);
    expect(netgwm.summary.deadSeconds).toBeLessThanOrEqual(3 * 1.5);
    // Each return a few seconds (health's `up` rounds and the loss window) after min_uptime.
    expect(netgwm.summary.worseSeconds).toBeLessThanOrEqual(3 * 5);
  });

  it('a flapping primary: one switch away at the first flap, one back min_uptime after the last', () => {
    const { netgwm, truth } = get('flapping-primary');
    expect(switches(netgwm)).toEqual([
      ['isp1', 'isp2'],
      ['isp2', 'isp1'],
    ]);
    expect(netgwm.switches[0]!.at - 10 * MIN).toBeLessThanOrEqual(1500);
    const lastFlapEnd = truth.isp1!.dead.at(-1)!.to;
    expect(lastFlapEnd).toBe(36 * MIN);
    expect(netgwm.switches[1]!.at).toBeGreaterThanOrEqual(lastFlapEnd + config.min_uptime * 1000);
    expect(outageExits(netgwm, truth).every((exit) => exit <= 1.5)).toBe(true);
  });

  it('2 s blips: detected and left, the route stays on isp2 until min_uptime after the last', () => {
    const { netgwm, truth } = get('blips-2s');
    expect(switches(netgwm)).toEqual([
      ['isp1', 'isp2'],
      ['isp2', 'isp1'],
    ]);
    expect(netgwm.switches[1]!.at).toBeGreaterThanOrEqual(truth.isp1!.dead.at(-1)!.to + config.min_uptime * 1000);
    expect(netgwm.summary.deadSeconds).toBeLessThanOrEqual(1.5);
  });

  it('30 % loss and a slow recovery: away once, back once', () => {
    for (const name of ['loss-30', 'slow-recovery']) {
      expect(switches(get(name).netgwm), name).toEqual([
        ['isp1', 'isp2'],
        ['isp2', 'isp1'],
      ]);
    }
    // 30 % loss is impaired, never dead.
    expect(get('loss-30').netgwm.summary.deadSeconds).toBe(0);
    expect(get('slow-recovery').netgwm.summary.deadSeconds).toBeLessThanOrEqual(1.5);
  });

  it('all down: nothing to move to, so nothing moves', () => {
    const { netgwm } = get('all-down');
    expect(netgwm.switches).toEqual([]);
    expect(netgwm.summary.deadSeconds).toBe(300);
  });

  it('next to NetGWM: fewer seconds on a dead uplink wherever there was an outage to leave', () => {
    for (const name of ['hard-outage', 'flapping-primary', 'blips-2s', 'slow-recovery']) {
      const { netgwm, classic } = get(name);
      expect(netgwm.summary.deadSeconds!, name).toBeLessThan(classic.summary.deadSeconds!);
    }
    // NetGWM's first run finds isp1 down 30-60 s after each hard outage starts.
    expect(get('hard-outage').classic.summary.deadSeconds).toBeGreaterThan(3 * 30);
  });
});
