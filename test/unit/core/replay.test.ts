import { describe, expect, it } from 'vitest';
import type { HealthSettings } from '../../../src/core/health.js';
import type { ProbeEvent } from '../../../src/core/probe-events.js';
import { eventTime } from '../../../src/core/scenario.js';
import { CYCLE_MS, eventWindow, overlap, replayDaemon, routeIntervals, summarize, type ReplayRun } from '../../../src/core/replay.js';
import type { Gateway } from '../../../src/core/types.js';

const GATEWAYS: Gateway[] = [
  { name: 'isp1', ip: '192.0.2.1', priority: 1, probe: { mark: 1, table: 195, ports: { from: 61000, to: 61063 } } },
  { name: 'isp2', ip: '198.51.100.1', priority: 2, probe: { mark: 2, table: 196, ports: { from: 61064, to: 61127 } } },
];
/** A round a second, two bad rounds make a gateway down, two good ones up; loss never judged alone. */
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
const SETUP = {
  gateways: GATEWAYS,
  settings: SETTINGS,
  minUptimeMs: 60_000,
  checkAllGateways: false,
  mode: 'auto',
  housekeepingMs: 60_000,
};

/** Rounds of one site every second in [fromMs, toMs): answered in 10 ms unless `dead(at)`, else settled at the timeout. */
function rounds(gateway: string, fromMs: number, toMs: number, dead: (at: number) => boolean = () => false): ProbeEvent[] {
  const events: ProbeEvent[] = [];
  for (let at = fromMs; at < toMs; at += 1000) {
    const answered = !dead(at);
    events.push({
      kind: 'round',
      gateway,
      at,
      settledAt: at + (answered ? 10 : 500),
      echoes: [answered ? { site: '203.0.113.10', answered, rttMs: 10 } : { site: '203.0.113.10', answered }],
    });
  }
  return events;
}

const ordered = (...lists: ProbeEvent[][]) => lists.flat().sort((a, b) => eventTime(a) - eventTime(b));

describe('replayDaemon', () => {
  it('fails over a cycle after the gateway goes down and back once it has been stable for min_uptime', () => {
    const events = ordered(
      rounds('isp1', 0, 100_000, (at) => at >= 20_000 && at < 30_000),
      rounds('isp2', 0, 100_000),
    );
    const run = replayDaemon(SETUP, events, { startAt: 0, endAt: 100_000, start: 'isp1' });
    // Down when the second lost round (sent at 21 s) settles at 21.5 s; the cycle decides 30 ms later.
    // Up when the second good round (31 s) settles; stable 60 s after that cycle: the failback
    // timer fires 10 ms after, and its cycle decides 30 ms later.
    const upAt = 31_010 + CYCLE_MS;
    expect(run.switches).toEqual([
      {
        at: 21_500 + CYCLE_MS,
        from: 'isp1',
        to: 'isp2',
        reason: 'isp1 down: 0/1 sites answered in 2 rounds; no gateway is stable yet, isp2 is the best one up',
      },
      { at: upAt + 60_000 + 10 + CYCLE_MS, from: 'isp2', to: 'isp1', reason: 'isp1 is back and stable, up for 1m00s' },
    ]);
    expect(run.health.filter((entry) => entry.gateway === 'isp1').map((entry) => [entry.at, entry.from, entry.to])).toEqual([
      [0, 'unknown', 'up'],
      [21_000, 'up', 'down'],
      [31_000, 'down', 'up'],
    ]);
  });

  it('decides once on gateways that fail together: no switch to one about to be found down', () => {
    const dead = (at: number) => at >= 20_000;
    const run = replayDaemon(SETUP, ordered(rounds('isp1', 0, 40_000, dead), rounds('isp2', 0, 40_000, dead)), {
      startAt: 0,
      endAt: 40_000,
      start: 'isp1',
    });
    expect(run.switches).toEqual([]);
  });

  it('carrier loss decides at once, without waiting for rounds', () => {
    const events = ordered(
      rounds('isp1', 0, 60_000, (at) => at >= 50_000),
      rounds('isp2', 0, 60_000),
      [{ kind: 'link', gateway: 'isp1', dev: 'eth1', up: false, at: 50_000 }],
    );
    const run = replayDaemon(SETUP, events, { startAt: 0, endAt: 60_000, start: 'isp1' });
    expect(run.switches.map((entry) => [entry.at, entry.to, entry.reason])).toEqual([
      [50_000 + CYCLE_MS, 'isp2', 'isp1 down: link eth1 has no carrier; no gateway is stable yet, isp2 is the best one up'],
    ]);
  });

  it('waits for every gateway, or the grace, before the first decision; with no route, the first one picks one', () => {
    // isp2 never answers nor times out (nothing to probe): decided without it after the grace.
    const run = replayDaemon(SETUP, ordered(rounds('isp1', 0, 10_000)), { startAt: 0, endAt: 10_000 });
    const graceMs = SETTINGS.down * SETTINGS.intervalMs + SETTINGS.timeoutMs + 1000;
    expect(run.switches).toEqual([
      { at: graceMs + CYCLE_MS, to: 'isp1', reason: 'no current gateway; no gateway is stable yet, isp1 is the best one up' },
    ]);
  });

  it('takes a housekeeping cycle every interval', () => {
    const run = replayDaemon({ ...SETUP, housekeepingMs: 10_000 }, ordered(rounds('isp1', 0, 100_000), rounds('isp2', 0, 100_000)), {
      startAt: 0,
      endAt: 100_000,
      start: 'isp1',
    });
    // At 0 (nothing known yet: no decision), 10 s … 100 s, and once when both became known.
    expect(run.decisions).toBe(10 + 1);
  });
});

describe('summary arithmetic', () => {
  const run: ReplayRun = {
    startAt: 0,
    endAt: 100_000,
    start: 'isp1',
    switches: [
      { at: 21_530, from: 'isp1', to: 'isp2', reason: '' },
      { at: 91_080, from: 'isp2', to: 'isp1', reason: '' },
    ],
    health: [],
    decisions: 0,
  };

  it('time on each gateway, on a dead one, and on a worse one while a better one was stable', () => {
    const truth = { isp1: { dead: [{ from: 20_000, to: 30_000 }], impaired: [] }, isp2: { dead: [], impaired: [] } };
    expect(summarize(run, SETUP, 2, truth)).toEqual({
      switches: 2,
      secondsOn: { isp1: 30.45, isp2: 69.55 },
      // 20 s → 21.53 s on the dead isp1.
      deadSeconds: 1.53,
      // isp1 stable again 60 s after its outage ended (90 s); the route came back at 91.08 s.
      worseSeconds: 1.08,
      // Two switches × two hooks.
      hookRuns: 4,
    });
  });

  it('a gateway up from the start is stable at once; an impaired one is not stable', () => {
    const onBackup: ReplayRun = { ...run, start: 'isp2', switches: [] };
    const clean = { isp1: { dead: [], impaired: [] }, isp2: { dead: [], impaired: [] } };
    expect(summarize(onBackup, SETUP, 0, clean).worseSeconds).toBe(100);
    const impaired = { ...clean, isp1: { dead: [], impaired: [{ from: 0, to: 50_000 }] } };
    // Stable from 50 s + min_uptime (60 s): never within the run.
    expect(summarize(onBackup, SETUP, 0, impaired).worseSeconds).toBe(0);
  });

  it('without a truth (a recording) there is no dead or worse time; the first route counts for hooks, not as a switch', () => {
    const fromNone: ReplayRun = { ...run, start: undefined, switches: [{ at: 3_530, to: 'isp1', reason: 'no current gateway' }] };
    expect(summarize(fromNone, SETUP, 3)).toEqual({ switches: 0, secondsOn: { isp1: 96.47 }, hookRuns: 3 });
  });

  it('route intervals and overlaps', () => {
    expect(routeIntervals(run)).toEqual({
      isp1: [
        { from: 0, to: 21_530 },
        { from: 91_080, to: 100_000 },
      ],
      isp2: [{ from: 21_530, to: 91_080 }],
    });
    expect(
      overlap(
        [
          { from: 0, to: 10 },
          { from: 20, to: 30 },
        ],
        [{ from: 5, to: 25 }],
      ),
    ).toBe(10);
    expect(overlap([{ from: 0, to: 10 }], [])).toBe(0);
  });

  it('the window of a stream of events', () => {
    const events = [...rounds('isp1', 1000, 3000), { kind: 'link', gateway: 'isp1', dev: 'eth1', up: false, at: 1005 } as const];
    expect(eventWindow(events)).toEqual({ startAt: 1000, endAt: 2010 });
  });
});
