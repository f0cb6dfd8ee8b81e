// Probing gateways: every gateway through its own probe path (its mark, see
// src/config/probe-paths.ts), all at once, each with all its sites at once: pings, and the check
// sites with a method (tcp, http, dns) through the gateway's own range of local ports. Nothing
// here changes routes: the paths are in place before (src/system/probe-paths.ts).
import type { MethodSite } from '../core/check-site.js';
import { own } from '../core/records.js';
import type { Gateway, GatewayObservation, SiteObservation } from '../core/types.js';
import type { PingOptions, PingResult } from './icmp.js';
import type { ProbeTarget } from './resolve.js';
import type { SiteProbeResult } from './site-probe.js';
import type { SiteProber } from './site-rounds.js';

export type Ping = (address: string, options: PingOptions) => Promise<PingResult>;

export interface StartedProbe {
  gateway: Gateway;
  observation: Promise<GatewayObservation>;
}

export interface Probes {
  /** In the order the gateways were given. */
  started: StartedProbe[];
  /** Ends the probes still running (what they had not got counts as not answered) and waits for them. */
  stop(): Promise<void>;
}

/**
 * Starts probing every gateway at once. `unreachable` gives, per gateway, why the kernel has no
 * route for its probes (e.g. its link is down): that gateway is down without a ping.
 */
export function startProbes(
  ping: Ping,
  gateways: Gateway[],
  targets: ProbeTarget[],
  options: Omit<ProbeOptions, 'signal'>,
  unreachable: Record<string, string>,
  signal?: AbortSignal,
): Probes {
  const stop = new AbortController();
  const abort = () => stop.abort();
  signal?.addEventListener('abort', abort, { once: true });
  if (signal?.aborted) stop.abort();
  const started = gateways.map((gateway) => {
    const observation = probeGateway(ping, gateway, targets, { ...options, signal: stop.signal }, own(unreachable, gateway.name));
    // Handled here: a probe nobody awaits (not needed) must not become an unhandled rejection.
    observation.catch(() => undefined);
    return { gateway, observation };
  });
  return {
    started,
    async stop() {
      stop.abort();
      signal?.removeEventListener('abort', abort);
      await Promise.allSettled(started.map((probe) => probe.observation));
    },
  };
}

/** How a one-shot probe runs: echoes per site, their timeout, and the sites that must answer. */
export type ProbeOptions = Omit<PingOptions, 'mark'> & {
  /** Up when at least this many of the probed sites answered (default 1: any, as NetGWM). */
  minSites?: number;
  /** The check sites with a method, each probed once with its own timeout, over `family`. */
  methods?: { sites: MethodSite[]; probe: SiteProber; family: 4 | 6 };
};

/** Pings every site through the gateway's probe path at once; up when `minSites` sites answered. */
export async function probeGateway(
  ping: Ping,
  gateway: Gateway,
  targets: ProbeTarget[],
  options: ProbeOptions,
  unreachable?: string,
): Promise<GatewayObservation> {
  const methodSites = options.methods?.sites ?? [];
  if (unreachable !== undefined) {
    const keys = [...targets.map((target) => target.site), ...methodSites.map((site) => site.key)];
    return { up: false, sites: keys.map((site) => ({ site, answered: false })), error: unreachable };
  }
  const sites = await Promise.all([
    ...targets.map(async (target): Promise<SiteObservation> => {
      if (!target.address) return { site: target.site, answered: false, skipped: target.skipped ?? 'no address' };
      const result = await ping(target.address, { ...options, mark: gateway.probe.mark });
      return {
        site: target.site,
        address: target.address,
        answered: result.answered,
        rttMs: result.rttMs,
        replies: result.replies,
        sent: result.sent,
      };
    }),
    ...methodSites.map((site) => probeMethodSite(gateway, site, options)),
  ]);
  // A site that could not be probed (its name did not resolve) must not fail every gateway.
  const probed = sites.filter((site) => site.skipped === undefined).length;
  const answered = sites.filter((site) => site.answered).length;
  return { up: answered > 0 && answered >= Math.min(options.minSites ?? 1, probed), sites };
}

/** One probe of a method site through the gateway's range of local ports: one echo, answered or not. */
async function probeMethodSite(gateway: Gateway, site: MethodSite, options: ProbeOptions): Promise<SiteObservation> {
  const { ports } = gateway.probe as { ports?: { from: number; to: number } };
  if (!ports || !options.methods) return { site: site.key, answered: false, skipped: 'no probe port range' };
  const path = { family: options.methods.family, ports };
  const timeoutMs = site.timeoutMs ?? options.timeoutMs;
  // probeSite never rejects; a stand-in that throws is a failed probe.
  const result = await Promise.resolve()
    .then(() => options.methods!.probe(site, path, { timeoutMs, signal: options.signal }))
    .catch((error: unknown): SiteProbeResult => ({ answered: false, error: (error as Error).message }));
  const observation: SiteObservation = { site: site.key, answered: result.answered, replies: result.answered ? 1 : 0, sent: 1 };
  if (result.answered && result.rttMs !== undefined) observation.rttMs = result.rttMs;
  if (!result.answered && result.error !== undefined) observation.error = result.error;
  return observation;
}
