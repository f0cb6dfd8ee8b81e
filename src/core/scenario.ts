// A scripted scenario (examples/scenarios/*.yml, read by src/replay/scenario-file.ts) turned into
// the probe events the daemon's monitor would have seen, and the truth behind them: when each
// gateway was really dead. Pure and seeded: the same scenario, config and seed give the same events.
import type { Echo } from './health.js';
import type { ProbeEvent } from './probe-events.js';
import { prng } from './prng.js';

/** How a gateway, or a check site through every gateway, behaves during one phase. */
export interface Behaviour {
  /** `down`: nothing passes; `link-down` (gateways only): its device also loses carrier. */
  state: 'up' | 'down' | 'link-down';
  /** Percent of echoes lost at random. */
  lossPct: number;
  /** Round-trip time of an answered echo: uniform between the two (ms); for a site, added to the gateway's. */
  rttMs: [number, number];
}

/** A behaviour from `fromMs` to `toMs` after the start of the scenario. */
export interface Phase {
  fromMs: number;
  toMs: number;
  behaviour: Behaviour;
}

export interface Scenario {
  name: string;
  durationMs: number;
  seed: number;
  /** The gateway carrying the default route at the start (default: the best one). */
  start?: string;
  /** Per gateway and per check site (as written in the config), their phases in time order; outside them, up. */
  gateways: Record<string, Phase[]>;
  sites: Record<string, Phase[]>;
}

/** What a gateway does outside its phases: answers, with this RTT. */
export const DEFAULT_GATEWAY: Behaviour = { state: 'up', lossPct: 0, rttMs: [10, 30] };
const SITE_DEFAULT: Behaviour = { state: 'up', lossPct: 0, rttMs: [0, 0] };

/**
 * A gateway is impaired, by the truth, while fewer than this percent of echoes can get through
 * on its best path: it is not "stable" (worth failing back to) then, though not dead.
 */
export const IMPAIRED_LOSS_PCT = 25;

/** An interval [fromMs, toMs) in epoch ms. */
export interface Interval {
  from: number;
  to: number;
}

export interface GatewayTruth {
  /** Nothing passes (down, no carrier, or every check site dead through it). */
  dead: Interval[];
  /** Not dead, but losing IMPAIRED_LOSS_PCT % or more on its best path. */
  impaired: Interval[];
}

export type Truth = Record<string, GatewayTruth>;

export interface ScenarioSetup {
  /** The config's gateways (name, and device for link events); best first. */
  gateways: Array<{ name: string; dev?: string }>;
  /** The config's check sites, as written. */
  sites: string[];
  intervalMs: number;
  timeoutMs: number;
  /** Epoch ms of the scenario's start. */
  startAt: number;
}

/** The events, ordered as the monitor sees them, and the truth per gateway. */
export function scenarioEvents(scenario: Scenario, setup: ScenarioSetup): { events: ProbeEvent[]; truth: Truth } {
  const random = prng(scenario.seed);
  const { intervalMs, timeoutMs, startAt } = setup;
  const events: ProbeEvent[] = [];
  const truth: Truth = {};
  const siteLookups = setup.sites.map((site) => phaseLookup(scenario.sites[site] ?? [], SITE_DEFAULT));
  for (const gateway of setup.gateways) {
    const phases = scenario.gateways[gateway.name] ?? [];
    const behaviourAt = phaseLookup(phases, DEFAULT_GATEWAY);
    for (let at = 0; at < scenario.durationMs; at += intervalMs) {
      const own = behaviourAt(at);
      let settledMs = at;
      const echoes = setup.sites.map((site, index): Echo => {
        const path = siteLookups[index]!(at);
        const [min, max] = own.rttMs;
        const rttMs = min + random.next() * (max - min) + path.rttMs[0] + random.next() * (path.rttMs[1] - path.rttMs[0]);
        const passes = random.next() * 100 >= combinedLoss(own, path);
        // What counts is the path when the reply comes back: an outage cuts echoes already on their way.
        const back = behaviourAt(at + rttMs).state === 'up' && siteLookups[index]!(at + rttMs).state === 'up';
        const answered = own.state === 'up' && path.state === 'up' && passes && back && rttMs < timeoutMs;
        settledMs = Math.max(settledMs, at + (answered ? rttMs : timeoutMs));
        return answered ? { site, answered, rttMs: Math.round(rttMs * 100) / 100 } : { site, answered };
      });
      events.push({ kind: 'round', gateway: gateway.name, at: startAt + at, settledAt: startAt + settledMs, echoes });
    }
    const dev = gateway.dev ?? gateway.name;
    for (const phase of phases) {
      if (phase.behaviour.state !== 'link-down') continue;
      events.push({ kind: 'link', gateway: gateway.name, dev, up: false, at: startAt + phase.fromMs });
      if (phase.toMs < scenario.durationMs) events.push({ kind: 'link', gateway: gateway.name, dev, up: true, at: startAt + phase.toMs });
    }
    truth[gateway.name] = gatewayTruth(
      phases,
      setup.sites.map((site) => scenario.sites[site] ?? []),
      scenario.durationMs,
      startAt,
    );
  }
  events.sort((a, b) => eventTime(a) - eventTime(b));
  return { events, truth };
}

/** When the monitor sees an event: a round when it settled, a link event when it came. */
export function eventTime(event: ProbeEvent): number {
  return event.kind === 'round' ? event.settledAt : event.at;
}

/** Percent of echoes lost on the way through a gateway to a site, each losing independently. */
function combinedLoss(gateway: Behaviour, site: Behaviour): number {
  return 100 - ((100 - gateway.lossPct) * (100 - site.lossPct)) / 100;
}

/** The behaviour at a time (ms since the start); fast for times that mostly increase. */
function phaseLookup(phases: Phase[], outside: Behaviour): (ms: number) => Behaviour {
  let index = 0;
  return (ms) => {
    if (index >= phases.length || ms < phases[index]!.fromMs) index = 0;
    while (index < phases.length && phases[index]!.toMs <= ms) index++;
    const phase = phases[index];
    return phase && phase.fromMs <= ms ? phase.behaviour : outside;
  };
}

/** The dead and impaired intervals of a gateway, from its phases and its sites'. */
function gatewayTruth(phases: Phase[], sitePhases: Phase[][], durationMs: number, startAt: number): GatewayTruth {
  const bounds = new Set([0, durationMs]);
  for (const phase of [...phases, ...sitePhases.flat()]) {
    if (phase.fromMs < durationMs) bounds.add(phase.fromMs);
    if (phase.toMs < durationMs) bounds.add(phase.toMs);
  }
  const sorted = [...bounds].sort((a, b) => a - b);
  const gatewayAt = phaseLookup(phases, DEFAULT_GATEWAY);
  const sitesAt = sitePhases.map((site) => phaseLookup(site, SITE_DEFAULT));
  const truth: GatewayTruth = { dead: [], impaired: [] };
  for (let i = 0; i + 1 < sorted.length; i++) {
    const [from, to] = [sorted[i]!, sorted[i + 1]!];
    const own = gatewayAt(from);
    // The best path: the site that loses least through this gateway (a dead site loses everything).
    const loss = Math.min(...sitesAt.map((siteAt) => (siteAt(from).state === 'up' ? combinedLoss(own, siteAt(from)) : 100)));
    const kind = own.state !== 'up' || loss >= 100 ? 'dead' : loss >= IMPAIRED_LOSS_PCT ? 'impaired' : undefined;
    if (kind) addInterval(truth[kind], { from: startAt + from, to: startAt + to });
  }
  return truth;
}

/** Appends an interval, merging it with the last one when they touch. */
export function addInterval(intervals: Interval[], interval: Interval): void {
  const last = intervals.at(-1);
  if (last && last.to >= interval.from) last.to = Math.max(last.to, interval.to);
  else intervals.push({ ...interval });
}
