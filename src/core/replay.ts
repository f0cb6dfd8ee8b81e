// `netgwm replay`: what the daemon would have done on recorded or scripted probe events, on a
// virtual clock. The same code as the daemon decides: the monitor's pure part
// (src/core/monitoring.ts), chooseGateway, recordSwitch, and the daemon's wake-ups (src/daemon.ts):
// a decision when a gateway becomes usable or unusable or its carrier comes back, one when a better
// gateway becomes stable (nextStableAt, + 10 ms), one at the end of the monitor's grace, and the
// housekeeping cycle every interval from the start. A cycle takes `cycleMs` from its request to
// its decision (lock, routes, state), and requests meanwhile make one more cycle after it, as the
// daemon's coalesce() does: gateways failing together are decided on together.
import { chooseGateway, nextStableAt } from './decide.js';
import type { HealthSettings, HealthStatus } from './health.js';
import { recordSwitch } from './measurements.js';
import { createMonitoring, monitoringGraceMs } from './monitoring.js';
import type { ProbeEvent } from './probe-events.js';
import { addInterval, eventTime, type Interval, type Truth } from './scenario.js';
import { emptyState, type Gateway, type State } from './types.js';

/** What a replay needs of the config. */
export interface ReplaySetup {
  gateways: Gateway[];
  settings: HealthSettings;
  minUptimeMs: number;
  checkAllGateways: boolean;
  /** `auto` or a pinned gateway. */
  mode: string;
  /** The daemon's housekeeping interval (--interval), ms. */
  housekeepingMs: number;
  /** From a cycle's start to its decision, ms (default CYCLE_MS). */
  cycleMs?: number;
}

/**
 * A daemon cycle's time from its start to the decision (lock, one `ip` read of rules and routes,
 * the state file): carrier loss → route moved takes 0.04 s (median, README "Benchmarks").
 */
export const CYCLE_MS = 30;

export interface ReplayWindow {
  /** When the daemon started (epoch ms); default: the first event's round time. */
  startAt: number;
  /** Until when to run the clock (default: the last event). */
  endAt: number;
  /** The gateway the default route is on at the start (none: the first decision picks one). */
  start?: string;
}

export interface SwitchEntry {
  at: number;
  from?: string;
  to: string;
  reason: string;
}

export interface HealthEntry {
  at: number;
  gateway: string;
  from: HealthStatus;
  to: HealthStatus;
  reason: string;
}

export interface ReplayRun {
  startAt: number;
  endAt: number;
  start?: string;
  switches: SwitchEntry[];
  health: HealthEntry[];
  /** Decisions taken (cycles that reached chooseGateway). */
  decisions: number;
}

/** The daemon's policy on these events. `events` must be in the order the monitor saw them (eventTime). */
export function replayDaemon(setup: ReplaySetup, events: Iterable<ProbeEvent>, window: ReplayWindow): ReplayRun {
  const { gateways, minUptimeMs, housekeepingMs } = setup;
  let decisionNeeded = false;
  const monitoring = createMonitoring(
    window.startAt,
    {
      onDecisionNeeded: () => {
        decisionNeeded = true;
      },
      onHealthChange: () => undefined, // the timeline takes every change, usable or not:
      onStatus: (change) =>
        run.health.push({ at: change.at, gateway: change.gateway, from: change.from, to: change.to, reason: change.reason }),
    },
    { siteTallies: false }, // like the samples in decide() below
  );
  monitoring.configure(gateways, setup.settings, window.startAt);
  const run: ReplayRun = { startAt: window.startAt, endAt: window.endAt, switches: [], health: [], decisions: 0 };
  if (window.start) run.start = window.start;
  let state: State = emptyState();
  let current = window.start;
  let failbackAt: number | undefined;
  let graceAt: number | undefined = window.startAt + monitoringGraceMs(setup.settings);
  let housekeepingAt = window.startAt;
  const decide = (now: number): void => {
    failbackAt = undefined;
    const observations = monitoring.observations(now);
    if (!observations) return;
    run.decisions++;
    const input = { gateways, minUptimeMs, checkAllGateways: setup.checkAllGateways, mode: setup.mode, state, current, observations, now };
    const decision = chooseGateway(input);
    // The daemon's cycle records the active gateway and each site's probe samples (recordProbes);
    // the samples are for `netgwm status` and the metrics: no decision reads them and a replay
    // reports none, and keeping them was 8 % of a day's replay (1440 housekeeping cycles).
    state = { ...decision.state, active: current };
    if (current === undefined) delete state.active;
    if (decision.target) {
      const change = { at: now, from: current, to: decision.target.name, reason: decision.reason };
      run.switches.push(current === undefined ? { at: now, to: change.to, reason: change.reason } : change);
      state = { ...state, ...recordSwitch(state, change) };
      current = decision.target.name;
    }
    const stableAt = nextStableAt({ gateways, state, current: state.active, minUptimeMs });
    if (stableAt !== undefined) failbackAt = Math.max(stableAt, now) + 10;
  };
  const cycleMs = setup.cycleMs ?? CYCLE_MS;
  /** When the running cycle decides, and whether another was asked for meanwhile (coalesce). */
  let cycleAt: number | undefined;
  let queued = false;
  const request = (now: number): void => {
    if (cycleAt === undefined) cycleAt = now + cycleMs;
    else queued = true;
  };
  /** The earliest timer: a cycle's decision, housekeeping, failback or the end of the grace. */
  const nextTimer = () => Math.min(cycleAt ?? Infinity, housekeepingAt, failbackAt ?? Infinity, graceAt ?? Infinity);
  /** Fires the timers due before `until` (or at it, with `inclusive`), earliest first. */
  const runTimers = (until: number, inclusive: boolean): void => {
    for (let next = nextTimer(); next < until || (next === until && inclusive); next = nextTimer()) {
      if (next === cycleAt) {
        decide(next);
        cycleAt = queued ? next + cycleMs : undefined;
        queued = false;
      } else if (next === graceAt) {
        graceAt = undefined;
        if (!monitoring.allKnown) request(next);
      } else if (next === failbackAt) {
        failbackAt = undefined;
        request(next);
      } else {
        housekeepingAt += housekeepingMs;
        request(next);
      }
    }
    timerAt = nextTimer();
  };
  let timerAt = nextTimer();

  for (const event of events) {
    const now = event.kind === 'round' ? event.settledAt : event.at;
    if (now > window.endAt) break;
    if (now > timerAt) runTimers(now, false);
    decisionNeeded = false;
    if (event.kind === 'round') monitoring.round(event.gateway, event);
    // Carrier back: the daemon decides (and repairs the probe route) at once.
    else if (monitoring.link(event.gateway, { up: event.up, dev: event.dev, at: now })) decisionNeeded = true;
    if (decisionNeeded) {
      request(now);
      timerAt = nextTimer();
    }
  }
  runTimers(window.endAt, true);
  return run;
}

/** The window of a run over `events`: from the first round sent to the last event. */
export function eventWindow(events: Iterable<ProbeEvent>): { startAt: number; endAt: number } {
  let startAt = Infinity;
  let endAt = -Infinity;
  for (const event of events) {
    startAt = Math.min(startAt, event.at);
    endAt = Math.max(endAt, eventTime(event));
  }
  return Number.isFinite(startAt) ? { startAt, endAt } : { startAt: 0, endAt: 0 };
}

export interface ReplaySummary {
  switches: number;
  /** Seconds the route was on each gateway. */
  secondsOn: Record<string, number>;
  /** Seconds the route was on a gateway the scenario says was dead (undefined without a truth). */
  deadSeconds?: number;
  /**
   * Seconds the route was on a gateway while a better one had been up (not dead, not impaired)
   * for min_uptime by the scenario's truth (undefined without one).
   */
  worseSeconds?: number;
  /** Hook runs: every route change (the first route too) runs each hook; absent when they cannot be listed. */
  hookRuns?: number;
}

/** The summary of a run; `truth` (a scenario's) gives the time on dead and worse gateways. */
export function summarize(
  run: ReplayRun,
  setup: Pick<ReplaySetup, 'gateways' | 'minUptimeMs'>,
  hooksPerSwitch: number,
  truth?: Truth,
): ReplaySummary {
  const routes = routeIntervals(run);
  const secondsOn: Record<string, number> = {};
  for (const [name, intervals] of Object.entries(routes)) secondsOn[name] = seconds(sumLength(intervals));
  const changes = run.switches.filter((entry) => entry.from !== undefined).length;
  const summary: ReplaySummary = { switches: changes, secondsOn, hookRuns: run.switches.length * hooksPerSwitch };
  if (!truth) return summary;
  let dead = 0;
  let worse = 0;
  for (const gateway of setup.gateways) {
    const on = routes[gateway.name] ?? [];
    dead += overlap(on, truth[gateway.name]?.dead ?? []);
    const better = setup.gateways.filter((other) => other.priority < gateway.priority);
    const betterStable = union(better.map((other) => stableIntervals(truth[other.name], run, setup.minUptimeMs)));
    worse += overlap(on, betterStable);
  }
  return { ...summary, deadSeconds: seconds(dead), worseSeconds: seconds(worse) };
}

/** Per gateway, when the default route was on it. */
export function routeIntervals(run: Pick<ReplayRun, 'startAt' | 'endAt' | 'start' | 'switches'>): Record<string, Interval[]> {
  const routes: Record<string, Interval[]> = {};
  let on = run.start;
  let since = run.startAt;
  const close = (at: number) => {
    if (on === undefined || at <= since) return;
    const intervals = routes[on] ?? [];
    routes[on] = intervals;
    addInterval(intervals, { from: since, to: at });
  };
  for (const entry of run.switches) {
    close(entry.at);
    on = entry.to;
    since = entry.at;
  }
  close(run.endAt);
  return routes;
}

/** When a gateway had been neither dead nor impaired for `minUptimeMs` (up from the start counts as stable then). */
function stableIntervals(truth: Truth[string] | undefined, run: Pick<ReplayRun, 'startAt' | 'endAt'>, minUptimeMs: number): Interval[] {
  const bad = union([truth?.dead ?? [], truth?.impaired ?? []]);
  const stable: Interval[] = [];
  let from = run.startAt;
  for (const interval of [...bad, { from: run.endAt, to: run.endAt }]) {
    const stableFrom = from === run.startAt ? from : from + minUptimeMs;
    if (interval.from > stableFrom) stable.push({ from: stableFrom, to: Math.min(interval.from, run.endAt) });
    from = Math.max(from, interval.to);
  }
  return stable;
}

/** The union of sorted interval lists, sorted and merged. */
function union(lists: Interval[][]): Interval[] {
  const all = lists.flat().sort((a, b) => a.from - b.from);
  const merged: Interval[] = [];
  for (const interval of all) addInterval(merged, interval);
  return merged;
}

/** Total length of the overlap of two sorted, merged interval lists. */
export function overlap(a: Interval[], b: Interval[]): number {
  let total = 0;
  let j = 0;
  for (const x of a) {
    while (j < b.length && b[j]!.to <= x.from) j++;
    for (let k = j; k < b.length && b[k]!.from < x.to; k++) total += Math.min(x.to, b[k]!.to) - Math.max(x.from, b[k]!.from);
  }
  return total;
}

function sumLength(intervals: Interval[]): number {
  return intervals.reduce((total, interval) => total + interval.to - interval.from, 0);
}

const seconds = (ms: number) => Math.round(ms) / 1000;
