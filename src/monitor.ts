// Continuous monitoring, for the daemon: every gateway's sites get an echo each probe.interval
// through the gateway's own probe path; each round updates that gateway's health (a pure state
// machine, src/core/health.ts); carrier loss marks it down at once. A gateway becoming usable or
// unusable asks for a decision at once, not at the next housekeeping cycle. A dual-stack gateway
// is two paths, watched apart: `isp1` (IPv4) and `isp1/6` (IPv6), each with its own health.
// Check sites with a method (tcp, http, dns) are probed each at its own interval
// (src/probe/site-rounds.ts); a result joins the gateway's next round of echoes, or is a round of
// its own for a gateway with no site to ping; the health carries it into later rounds for
// min_sites (src/core/monitoring.ts).
import type { Config } from './config/load.js';
import { familyView, pathKey, type Family } from './config/families.js';
import { healthSettings } from './config/health.js';
import type { MethodSite } from './core/check-site.js';
import type { Echo, Round } from './core/health.js';
import { createMonitoring, monitoringGraceMs } from './core/monitoring.js';
import type { ProbeEvent } from './core/probe-events.js';
import { own } from './core/records.js';
import type { Gateway, Observations } from './core/types.js';
import type { Logger } from './log/logger.js';
import { startEchoer, type Echoer, type EchoTarget, type SystemPingFactory } from './probe/echoes.js';
import type { ProbeTarget } from './probe/resolve.js';
import { startSiteRounds, type SiteProber, type SiteRounds, type SiteTarget } from './probe/site-rounds.js';
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
  /** How method sites are probed (default src/probe/site-probe.ts's probeSite); tests pass a stand-in. */
  probeSite?: SiteProber;
}

export interface Monitor {
  /**
   * What the decision works from: each gateway's health and what its sites answered since the
   * last call; undefined until every gateway's health is known (a decision on half the gateways
   * could leave a working current gateway for a worse one).
   */
  observations(): Observations | undefined;
  /** Applies a (reloaded) config and each family's check-site addresses; keeps what did not change. */
  setTargets(config: Config, targets: Partial<Record<Family, ProbeTarget[]>>): void;
  /** The device each path's probe route uses (by path key), for link events on gateways configured by `ip` only. */
  setDevices(devices: Record<string, string>): void;
  /** Applies a link event; returns the devices of gateways whose carrier came back (to repair and probe). */
  onLink(event: LinkEvent): string[];
  /** Starts a round now for the gateways on `dev` (its link came back). */
  probeNow(dev: string): void;
  stop(): Promise<void>;
}

export function startMonitor(config: Config, options: MonitorOptions): Monitor {
  let devices: Record<string, string> = {};
  // The health, the tallies and when to decide: pure, shared with `netgwm replay` (src/core/monitoring.ts).
  const monitoring = createMonitoring(options.clock(), {
    onDecisionNeeded: options.onDecisionNeeded,
    // An IPv6 path's line reads as the IPv6 cycle's do: `IPv6: gateway isp1 down …`.
    onHealthChange: (change) => options.log.event({ kind: 'gateway-health', ...change, ...pathOf(change.gateway) }),
  });
  monitoring.configure(pathsOf(config), healthSettings(config), options.clock());
  let echoer: Echoer | undefined;
  let echoerPace = { intervalMs: 0, timeoutMs: 0 };
  /** Echoers a reload replaced, still winding down (each leaves the set when it has). */
  const stopping = new Set<Promise<void>>();

  const onRound = (name: string, round: Round): void => {
    if (options.record && monitoring.gateways.some((gateway) => gateway.name === name)) {
      options.record({ kind: 'round', gateway: name, at: round.at, settledAt: options.clock(), echoes: round.echoes });
    }
    monitoring.round(name, round);
  };
  let siteRounds: SiteRounds | undefined;
  /** Paths that have sites to ping: their method results wait in `pending` for the next round of echoes. */
  let pinged = new Set<string>();
  const pending = new Map<string, Echo[]>();
  /** `PATH\nSITE` of the method sites whose last result failed, logged once until they answer. */
  const failing = new Set<string>();
  const onSiteResult = (name: string, echo: Echo, at: number, error?: string): void => {
    const id = `${name}\n${echo.site}`;
    if (error !== undefined && !failing.has(id)) {
      failing.add(id);
      options.log.event({ kind: 'site-failing', ...pathOf(name), site: echo.site, error });
    } else if (echo.answered && failing.delete(id)) options.log.event({ kind: 'site-answering', ...pathOf(name), site: echo.site });
    const waiting = pending.get(name);
    if (!pinged.has(name)) onRound(name, { at, echoes: [echo] });
    else if (waiting) waiting.push(echo);
    else pending.set(name, [echo]);
  };
  const onEchoRound = (name: string, round: Round): void => {
    const results = pending.get(name);
    pending.delete(name);
    onRound(name, results ? { at: round.at, echoes: [...round.echoes, ...results] } : round);
  };

  const gatewaysOn = (dev: string) => monitoring.gateways.filter((gateway) => (gateway.dev ?? own(devices, gateway.name)) === dev);

  return {
    observations: () => monitoring.observations(options.clock()),
    setTargets(fresh, targets) {
      monitoring.configure(pathsOf(fresh), healthSettings(fresh), options.clock());
      const settings = monitoring.settings;
      const echoTargets = fresh.families.flatMap((family) => echoTargetsOf(pathsOf(fresh, family), targets[family] ?? []));
      const siteTargets = fresh.families.flatMap((family) =>
        siteTargetsOf(pathsOf(fresh, family), familyView(fresh, family).method_sites, family),
      );
      pinged = new Set(echoTargets.map((target) => target.gateway));
      // Results waiting for rounds of echoes that no longer come are rounds of their own.
      for (const [name, results] of pending) {
        if (pinged.has(name)) continue;
        pending.delete(name);
        onRound(name, { at: options.clock(), echoes: results });
      }
      if (siteRounds) siteRounds.setTargets(siteTargets);
      else if (siteTargets.length > 0)
        siteRounds = startSiteRounds(siteTargets, { now: options.clock, probe: options.probeSite }, onSiteResult);
      const pace = { intervalMs: settings.intervalMs, timeoutMs: settings.timeoutMs, now: options.clock };
      // A reload that changes the pace needs a new echoer; the old one winds down meanwhile.
      if (echoer && (echoerPace.intervalMs !== pace.intervalMs || echoerPace.timeoutMs !== pace.timeoutMs)) {
        const ending: Promise<void> = echoer.stop().finally(() => stopping.delete(ending));
        stopping.add(ending);
        echoer = undefined;
      }
      if (echoer) echoer.setTargets(echoTargets);
      else {
        echoer = startEchoer(echoTargets, pace, onEchoRound, options.method);
        echoerPace = pace;
        // A gateway with nothing to probe gets no round: decide without it once the grace is over.
        setTimeout(() => monitoring.allKnown || options.onDecisionNeeded(), monitoringGraceMs(settings)).unref();
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
        const link = { up: event.up && !event.gone, dev: event.dev, at: options.clock() };
        options.record?.({ kind: 'link', gateway: gateway.name, ...link });
        if (monitoring.link(gateway.name, link)) back.add(event.dev);
      }
      return [...back];
    },
    probeNow(dev) {
      for (const gateway of gatewaysOn(dev)) {
        echoer?.probeNow(gateway.name);
        siteRounds?.probeNow(gateway.name);
      }
    },
    async stop() {
      await Promise.all([echoer?.stop(), siteRounds?.stop(), ...stopping]);
      echoer = undefined;
      siteRounds = undefined;
    },
  };
}

/** The gateway and family of a path key (`isp1/6` → isp1, 6). */
function pathOf(key: string): { gateway: string; family?: 6 } {
  return key.endsWith(pathKey('', 6)) ? { gateway: key.slice(0, -pathKey('', 6).length), family: 6 } : { gateway: key };
}

/** Every gateway × family path, named by its path key (`isp1`, `isp1/6`); the family's own one when given. */
export function pathsOf(config: Config, only?: Family): Gateway[] {
  return config.families
    .filter((family) => only === undefined || family === only)
    .flatMap((family) => familyView(config, family).gateways.map((gateway) => ({ ...gateway, name: pathKey(gateway.name, family) })));
}

/** Every gateway × every site that has an address: what the echoer sends to. */
function echoTargetsOf(gateways: Gateway[], targets: ProbeTarget[]): EchoTarget[] {
  return gateways.flatMap((gateway) =>
    targets.flatMap((target) =>
      target.address ? [{ gateway: gateway.name, site: target.site, address: target.address, mark: gateway.probe.mark }] : [],
    ),
  );
}

/**
 * Every gateway path × every method site its family can probe, through the path's own range of
 * local ports (src/config/probe-paths.ts): a path without one cannot probe method sites.
 */
function siteTargetsOf(gateways: Gateway[], sites: MethodSite[], family: Family): SiteTarget[] {
  return gateways.flatMap((gateway) => {
    const { ports } = gateway.probe as { ports?: { from: number; to: number } };
    return ports ? sites.map((site) => ({ gateway: gateway.name, site, path: { family, ports } })) : [];
  });
}
