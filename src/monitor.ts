// Continuous monitoring, for the daemon: every gateway's sites get an echo each probe.interval
// through the gateway's own probe path; each round updates that gateway's health (a pure state
// machine, src/core/health.ts); carrier loss marks it down at once. A gateway becoming usable or
// unusable asks for a decision at once, not at the next housekeeping cycle.
import type { Config } from './config/load.js';
import { healthSettings } from './config/health.js';
import {
  initialHealth,
  isUsable,
  observationOf,
  observeLink,
  observeRound,
  type GatewayHealth,
  type HealthChange,
  type HealthSettings,
  type Round,
} from './core/health.js';
import type { ProbeEvent } from './core/probe-events.js';
import { own } from './core/records.js';
import type { Gateway, Observations, SiteObservation } from './core/types.js';
import type { Logger } from './log/logger.js';
import { startEchoer, type Echoer, type EchoTarget, type SystemPingFactory } from './probe/echoes.js';
import type { ProbeTarget } from './probe/resolve.js';
import type { LinkEvent } from './system/link-monitor.js';

/** Native ICMP (net-ping), or long-lived ping(8) processes when the native module cannot load. */
export type EchoMethod = 'icmp' | SystemPingFactory;

export interface MonitorOptions {
  log: Logger;
  /** Wall-clock time, epoch ms (the decision's clock). */
  clock: () => number;
  method: EchoMethod;
  /** A gateway became usable or unusable (or every gateway's health is known for the first time). */
  onDecisionNeeded: () => void;
  /** Told every round and link event the health is fed, as it is fed (the probe recording). */
  record?: (event: ProbeEvent) => void;
}

export interface Monitor {
  /**
   * What the decision works from: each gateway's health and what its sites answered since the
   * last call; undefined until every gateway's health is known (a decision on half the gateways
   * could leave a working current gateway for a worse one).
   */
  observations(): Observations | undefined;
  /** Applies a (reloaded) config and this cycle's check-site addresses; keeps what did not change. */
  setTargets(config: Config, targets: ProbeTarget[]): void;
  /** The device each gateway's probe route uses, for link events on gateways configured by `ip` only. */
  setDevices(devices: Record<string, string>): void;
  /** Applies a link event; returns the devices of gateways whose carrier came back (to repair and probe). */
  onLink(event: LinkEvent): string[];
  /** Starts a round now for the gateways on `dev` (its link came back). */
  probeNow(dev: string): void;
  stop(): Promise<void>;
}

/** Per site, what answered since the observations were last taken. */
interface Tally {
  sent: number;
  replies: number;
  rttSum: number;
}

export function startMonitor(config: Config, options: MonitorOptions): Monitor {
  let gateways: Gateway[] = config.gateways;
  let settings: HealthSettings = healthSettings(config);
  let devices: Record<string, string> = {};
  const health = new Map<string, GatewayHealth>();
  const tallies = new Map<string, Map<string, Tally>>();
  const startedAt = options.clock();
  let allKnown = false;
  let echoer: Echoer | undefined;
  let echoerPace = { intervalMs: 0, timeoutMs: 0 };
  /** Echoers a reload replaced, still winding down (each leaves the set when it has). */
  const stopping = new Set<Promise<void>>();

  const apply = (name: string, next: { health: GatewayHealth; change?: HealthChange }): void => {
    const before = health.get(name);
    health.set(name, next.health);
    const change = next.change;
    if (!change || !before) return;
    if (isUsable(before) !== isUsable(next.health)) options.onDecisionNeeded();
    // Usable ↔ unusable is logged by the decision (gateway up/down); the rest here, once per change.
    else if (change.from !== 'unknown') options.log.event({ kind: 'gateway-health', gateway: name, ...change });
    if (!allKnown && gateways.every((gateway) => health.get(gateway.name)?.status !== 'unknown')) {
      allKnown = true;
      options.onDecisionNeeded();
    }
  };

  const onRound = (name: string, round: Round): void => {
    const before = health.get(name);
    if (!before) return; // a gateway removed by a reload
    options.record?.({ kind: 'round', gateway: name, at: round.at, settledAt: options.clock(), echoes: round.echoes });
    const siteTallies = tallies.get(name) ?? new Map<string, Tally>();
    tallies.set(name, siteTallies);
    for (const echo of round.echoes) {
      const tally = siteTallies.get(echo.site) ?? { sent: 0, replies: 0, rttSum: 0 };
      tally.sent++;
      if (echo.answered) {
        tally.replies++;
        tally.rttSum += echo.rttMs ?? 0;
      }
      siteTallies.set(echo.site, tally);
    }
    apply(name, observeRound(before, round, settings));
  };

  const gatewaysOn = (dev: string) => gateways.filter((gateway) => (gateway.dev ?? own(devices, gateway.name)) === dev);

  return {
    observations() {
      const now = options.clock();
      // A gateway with nothing to probe (no site resolved) never gets a round: down, not unknown forever.
      if (!allKnown && now - startedAt < graceMs(settings)) return undefined;
      const observations: Observations = {};
      for (const gateway of gateways) {
        const state = health.get(gateway.name) ?? initialHealth(now);
        const observation = observationOf(state);
        const siteTallies = tallies.get(gateway.name);
        if (siteTallies && siteTallies.size > 0) observation.sites = [...siteTallies].map(([site, tally]) => siteObservation(site, tally));
        if (state.status === 'unknown') observations[gateway.name] = { ...observation, up: false, reason: 'no probe result yet' };
        else observations[gateway.name] = observation;
      }
      tallies.clear();
      return observations;
    },
    setTargets(fresh, targets) {
      gateways = fresh.gateways;
      settings = healthSettings(fresh);
      const now = options.clock();
      for (const gateway of gateways) if (!health.has(gateway.name)) health.set(gateway.name, initialHealth(now));
      for (const name of [...health.keys()]) if (!gateways.some((gateway) => gateway.name === name)) health.delete(name);
      const echoTargets = echoTargetsOf(gateways, targets);
      const pace = echoerOptions(settings, options.clock);
      // A reload that changes the pace needs a new echoer; the old one winds down meanwhile.
      if (echoer && (echoerPace.intervalMs !== pace.intervalMs || echoerPace.timeoutMs !== pace.timeoutMs)) {
        const ending: Promise<void> = echoer.stop().finally(() => stopping.delete(ending));
        stopping.add(ending);
        echoer = undefined;
      }
      if (echoer) echoer.setTargets(echoTargets);
      else {
        echoer = startEchoer(echoTargets, pace, onRound, options.method);
        echoerPace = pace;
        // A gateway with nothing to probe gets no round: decide without it once the grace is over.
        setTimeout(() => allKnown || options.onDecisionNeeded(), graceMs(settings)).unref();
      }
    },
    setDevices(fresh) {
      devices = fresh;
    },
    onLink(event) {
      if (event.kind !== 'link') return [];
      const back = new Set<string>();
      // `ip monitor` repeats a link's state on unrelated changes: only a change of carrier counts.
      for (const gateway of gatewaysOn(event.dev)) {
        const before = health.get(gateway.name);
        if (!before) continue;
        const link = { up: event.up && !event.gone, dev: event.dev, at: options.clock() };
        options.record?.({ kind: 'link', gateway: gateway.name, ...link });
        const next = observeLink(before, link, settings);
        if (before.linkDown !== undefined && next.health.linkDown === undefined) back.add(event.dev);
        apply(gateway.name, next);
      }
      return [...back];
    },
    probeNow(dev) {
      for (const gateway of gatewaysOn(dev)) echoer?.probeNow(gateway.name);
    },
    async stop() {
      await Promise.all([echoer?.stop(), ...stopping]);
      echoer = undefined;
    },
  };
}

/** How long the first rounds may take: `down` rounds and a timeout, and a second to spare. */
function graceMs(settings: HealthSettings): number {
  return settings.down * settings.intervalMs + settings.timeoutMs + 1000;
}

function echoerOptions(settings: HealthSettings, clock: () => number) {
  return { intervalMs: settings.intervalMs, timeoutMs: settings.timeoutMs, now: clock };
}

function siteObservation(site: string, tally: Tally): SiteObservation {
  const observation: SiteObservation = { site, answered: tally.replies > 0, sent: tally.sent, replies: tally.replies };
  if (tally.replies > 0) observation.rttMs = Math.round((tally.rttSum / tally.replies) * 100) / 100;
  return observation;
}

/** Every gateway × every site that has an address: what the echoer sends to. */
function echoTargetsOf(gateways: Gateway[], targets: ProbeTarget[]): EchoTarget[] {
  return gateways.flatMap((gateway) =>
    targets.flatMap((target) =>
      target.address ? [{ gateway: gateway.name, site: target.site, address: target.address, mark: gateway.probe.mark }] : [],
    ),
  );
}
