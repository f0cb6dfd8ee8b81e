// What continuous monitoring knows, without the echoes themselves: each gateway's health, what its
// sites answered since the last decision, and when a decision is needed. Pure (no timer, no I/O):
// the daemon's monitor (src/monitor.ts) feeds it the rounds and link events it sees, a replay
// (src/core/replay.ts) feeds it recorded or scripted ones on a virtual clock: the same code decides.
import {
  type Echo,
  initialHealth,
  isUsable,
  observationOf,
  observeLink,
  observeRound,
  type GatewayHealth,
  type HealthChange,
  type HealthSettings,
  type HealthUpdate,
  type Round,
} from './health.js';
import { siteMethod } from './check-site.js';
import type { Gateway, Observations, SiteObservation } from './types.js';

export interface MonitoringEvents {
  /** A gateway became usable or unusable, or every gateway's health is known for the first time. */
  onDecisionNeeded: () => void;
  /** Any other change of a known gateway's health (up ↔ degraded, down → still down …): one log line. */
  onHealthChange: (change: HealthChange & { gateway: string }) => void;
  /** Every change of a gateway's status, usable or not, first ones included (a replay's timeline). */
  onStatus?: (change: HealthChange & { gateway: string }) => void;
}

export interface Monitoring {
  /**
   * What the decision works from at `now`: each gateway's health and what its sites answered since
   * the last call; undefined until every gateway's health is known or the grace is over (a
   * decision on half the gateways could leave a working current gateway for a worse one).
   */
  observations(now: number): Observations | undefined;
  /** Takes a (reloaded) list of gateways and settings; a new gateway's health starts unknown at `now`. */
  configure(gateways: Gateway[], settings: HealthSettings, now: number): void;
  /** One settled round of gateway `name` (ignored for a gateway no longer configured). */
  round(name: string, round: Round): void;
  /** Carrier of gateway `name`'s device lost or back at `at`; true when it came back after a loss. */
  link(name: string, link: { up: boolean; dev: string; at: number }): boolean;
  /** The health of gateway `name` (undefined when it is not configured). */
  health(name: string): GatewayHealth | undefined;
  readonly gateways: Gateway[];
  readonly settings: HealthSettings;
  /** Every gateway's health is known (not `unknown`). */
  readonly allKnown: boolean;
}

/**
 * A gateway's health and what its sites answered since the observations were last taken, in one
 * entry: a round looks up one map, not two. Per site (index i in `sites`), the echoes sent
 * (`tallies[3i]`), the replies (`3i + 1`) and the sum of their RTTs (`3i + 2`): a replay counts
 * millions of echoes, and rounds list their sites in the same order.
 */
interface Watched {
  health: GatewayHealth;
  sites: string[];
  tallies: number[];
  /** Per site in `sites`: whether it is a method site (tcp, http, dns), whose results are carried. */
  methods: boolean[];
  /** The latest result of each method site and the `at` of the round it came in (see Echo.carried). */
  carried?: Array<{ echo: Echo; at: number }>;
}

export interface MonitoringOptions {
  /**
   * Count what each site answered since the observations were last taken, for their `sites` (the
   * daemon's status and metrics); default true. A replay reports no site samples and no decision
   * reads them (a gateway's health has its reason), so it does not count them: a tenth of its time.
   */
  siteTallies?: boolean;
}

export function createMonitoring(startedAt: number, events: MonitoringEvents, { siteTallies = true }: MonitoringOptions = {}): Monitoring {
  let gateways: Gateway[] = [];
  let settings: HealthSettings | undefined;
  const watched = new Map<string, Watched>();
  let allKnown = false;

  const apply = (name: string, entry: Watched, next: HealthUpdate): void => {
    const before = entry.health;
    entry.health = next.health;
    const change = next.change;
    if (!change) return;
    events.onStatus?.({ ...change, gateway: name });
    if (isUsable(before) !== isUsable(next.health)) events.onDecisionNeeded();
    // Usable ↔ unusable is logged by the decision (gateway up/down); the rest here, once per change.
    else if (change.from !== 'unknown') events.onHealthChange({ ...change, gateway: name });
    if (!allKnown && gateways.every((gateway) => watched.get(gateway.name)?.health.status !== 'unknown')) {
      allKnown = true;
      events.onDecisionNeeded();
    }
  };

  return {
    get gateways() {
      return gateways;
    },
    get settings() {
      if (!settings) throw new Error('monitoring: configure() first');
      return settings;
    },
    get allKnown() {
      return allKnown;
    },
    health: (name) => watched.get(name)?.health,
    observations(now) {
      if (!settings) return undefined;
      // A gateway with nothing to probe (no site resolved) never gets a round: down, not unknown forever.
      if (!allKnown && now - startedAt < monitoringGraceMs(settings)) return undefined;
      const observations: Observations = {};
      for (const gateway of gateways) {
        const entry = watched.get(gateway.name);
        const state = entry?.health ?? initialHealth(now);
        const observation = observationOf(state);
        if (siteTallies && entry && entry.sites.length > 0)
          observation.sites = entry.sites.map((site, i) => siteObservation(site, entry.tallies, i));
        if (state.status === 'unknown') observations[gateway.name] = { ...observation, up: false, reason: 'no probe result yet' };
        else observations[gateway.name] = observation;
      }
      // Emptied, not replaced: arrays that keep their kind (doubles) keep each round's tallies monomorphic.
      for (const entry of watched.values()) {
        entry.sites.length = 0;
        entry.tallies.length = 0;
        entry.methods.length = 0;
      }
      return observations;
    },
    configure(fresh, freshSettings, now) {
      gateways = fresh;
      settings = freshSettings;
      for (const gateway of gateways)
        if (!watched.has(gateway.name)) watched.set(gateway.name, { health: initialHealth(now), sites: [], tallies: [], methods: [] });
      for (const name of [...watched.keys()]) if (!gateways.some((gateway) => gateway.name === name)) watched.delete(name);
    },
    round(name, round) {
      const entry = watched.get(name);
      if (!entry || !settings) return; // a gateway removed by a reload
      const { sites, tallies, methods } = entry;
      const echoes = round.echoes;
      let method = false;
      for (let position = 0; position < echoes.length; position++) {
        const echo = echoes[position]!;
        let index = sites[position] === echo.site ? position : sites.indexOf(echo.site);
        if (index < 0) {
          index = sites.push(echo.site) - 1;
          tallies.push(0, 0, 0);
          methods.push(siteMethod(echo.site) !== 'icmp');
        }
        if (methods[index]) method = true;
        if (!siteTallies) continue;
        tallies[3 * index]!++;
        if (echo.answered) {
          tallies[3 * index + 1]!++;
          tallies[3 * index + 2]! += echo.rttMs ?? 0;
        }
      }
      const fed = method || entry.carried ? withCarried(entry, round, settings) : round;
      apply(name, entry, observeRound(entry.health, fed, settings));
    },
    link(name, link) {
      const entry = watched.get(name);
      if (!entry || !settings) return false;
      const before = entry.health;
      // What a method site said before the carrier went tells nothing about the link when it is back.
      if (!link.up) entry.carried = undefined;
      const next = observeLink(before, link, settings);
      apply(name, entry, next);
      return before.linkDown !== undefined && next.health.linkDown === undefined;
    },
  };
}

/**
 * `round` with the latest result of every method site it lacks, marked `carried`: a site probed
 * every few seconds counts for min_sites in every round until its next result (or for
 * `settings.carryMs`). Its own results replace what was carried; loss and RTT count them once.
 */
function withCarried(entry: Watched, round: Round, settings: HealthSettings): Round {
  const carried = (entry.carried ?? []).filter(({ at }) => settings.carryMs === undefined || round.at - at <= settings.carryMs);
  for (const echo of round.echoes) {
    if (siteMethod(echo.site) === 'icmp') continue;
    const kept: Echo = { site: echo.site, answered: echo.answered, carried: true };
    if (echo.rttMs !== undefined) kept.rttMs = echo.rttMs;
    const index = carried.findIndex((other) => other.echo.site === echo.site);
    if (index >= 0) carried[index] = { echo: kept, at: round.at };
    else carried.push({ echo: kept, at: round.at });
  }
  entry.carried = carried.length > 0 ? carried : undefined;
  const extra = carried.filter(({ echo }) => !round.echoes.some((fresh) => fresh.site === echo.site)).map(({ echo }) => echo);
  return extra.length > 0 ? { at: round.at, echoes: [...round.echoes, ...extra] } : round;
}

/** How long the first rounds may take: `down` rounds and a timeout (a method site's, when longer), and a second to spare. */
export function monitoringGraceMs(settings: HealthSettings): number {
  return settings.down * settings.intervalMs + Math.max(settings.timeoutMs, settings.methodTimeoutMs ?? 0) + 1000;
}

function siteObservation(site: string, tallies: readonly number[], index: number): SiteObservation {
  const [sent, replies, rttSum] = [tallies[3 * index]!, tallies[3 * index + 1]!, tallies[3 * index + 2]!];
  const observation: SiteObservation = { site, answered: replies > 0, sent, replies };
  if (replies > 0) observation.rttMs = Math.round((rttSum / replies) * 100) / 100;
  return observation;
}
