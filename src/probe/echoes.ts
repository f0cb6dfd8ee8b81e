// Continuous probing for the monitor: every `intervalMs` each gateway gets a round, one echo to
// each of its check sites through its own probe mark, reported once every echo of it settled.
// Natively one long-lived net-ping session per gateway (and address family) is reused for every
// echo; with the ping(8) fallback, one long-lived `ping` per gateway and site. Never a process or
// a socket per echo.
import net from 'node:net';
import type { Round } from '../core/health.js';
import { startIcmpRounds } from './icmp-rounds.js';
import { validateMark } from './icmp.js';
import { startPingRounds } from './ping-rounds.js';

export type { Echo, Round } from '../core/health.js';

export interface EchoTarget {
  gateway: string;
  site: string;
  /** An IPv4 or IPv6 address (names are resolved by the caller). */
  address: string;
  /** SO_MARK of the echoes: the gateway's probe mark, which selects its probe table. */
  mark: number;
}

export interface EchoerOptions {
  intervalMs: number;
  /** A reply later than this counts as lost. */
  timeoutMs: number;
  /** The clock of `Round.at`, ms; default performance.now (monotonic). */
  now?: () => number;
}

/** How to start ping(8) with these arguments; tests wrap it (e.g. in `ip netns exec`). */
export type SystemPingFactory = (args: string[]) => { file: string; args: string[] };
export const systemPing: SystemPingFactory = (args) => ({ file: 'ping', args });

export interface Echoer {
  /** Replaces the set of targets (config reload, resolved names); keeps sessions that stay. */
  setTargets(targets: EchoTarget[]): void;
  /** Sends a round to this gateway's sites now (link came back), then keeps the interval. */
  probeNow(gateway: string): void;
  /** Stops every timer, socket and process; rounds still in flight are not reported. */
  stop(): Promise<void>;
}

/** What probes one gateway: the native and the ping(8) implementations. */
export interface GatewayRounds {
  /** This gateway's targets (never empty). */
  setTargets(targets: EchoTarget[]): void;
  probeNow(): void;
  stop(): Promise<void>;
}

export interface GatewayRoundsOptions {
  intervalMs: number;
  timeoutMs: number;
  now: () => number;
}

/**
 * Starts probing `targets` at once. Its timers are not unref'd: a running echoer is the monitor's
 * work, and stop() is how it ends. `onRound` gets each round once it settled: natively the
 * moment it did (a round that answered may come before an earlier one still waiting for its
 * timeout; `Round.at` says when each was sent), with ping(8) in the order they were sent. It runs
 * inside socket and stream callbacks, so it must not throw. Throws for targets or options that
 * cannot work (programming errors) and, with 'icmp', when net-ping cannot load (call loadIcmp
 * first to choose).
 */
export function startEchoer(
  targets: EchoTarget[],
  options: EchoerOptions,
  onRound: (gateway: string, round: Round) => void,
  ping: 'icmp' | SystemPingFactory = 'icmp',
): Echoer {
  validateOptions(options);
  const roundsOptions: GatewayRoundsOptions = {
    intervalMs: options.intervalMs,
    timeoutMs: options.timeoutMs,
    now: options.now ?? (() => performance.now()),
  };
  const gateways = new Map<string, GatewayRounds>();
  const stopping = new Set<Promise<void>>(); // removed gateways still winding down
  let stopped = false;

  const setTargets = (all: EchoTarget[]): void => {
    const wanted = groupByGateway(all);
    for (const [gateway, rounds] of gateways) {
      if (wanted.has(gateway)) continue;
      gateways.delete(gateway);
      const ending = rounds.stop().finally(() => stopping.delete(ending));
      stopping.add(ending);
    }
    for (const [gateway, gatewayTargets] of wanted) {
      const rounds = gateways.get(gateway);
      if (rounds !== undefined) rounds.setTargets(gatewayTargets);
      else {
        const emit = (round: Round): void => onRound(gateway, round);
        gateways.set(
          gateway,
          ping === 'icmp'
            ? startIcmpRounds(gatewayTargets, roundsOptions, emit)
            : startPingRounds(gatewayTargets, roundsOptions, emit, ping),
        );
      }
    }
  };

  setTargets(targets);
  return {
    setTargets(all) {
      if (!stopped) setTargets(all);
    },
    probeNow(gateway) {
      if (!stopped) gateways.get(gateway)?.probeNow();
    },
    async stop() {
      stopped = true;
      const all = [...gateways.values()];
      gateways.clear();
      await Promise.all([...all.map((rounds) => rounds.stop()), ...stopping]);
    },
  };
}

/** Targets per gateway, checked: IP addresses, one mark per gateway, unique sites. */
function groupByGateway(targets: EchoTarget[]): Map<string, EchoTarget[]> {
  const byGateway = new Map<string, EchoTarget[]>();
  for (const target of targets) {
    const where = `echo target ${JSON.stringify(target.gateway)}/${JSON.stringify(target.site)}`;
    if (net.isIP(target.address) === 0) throw new Error(`${where}: address must be an IP address, got ${JSON.stringify(target.address)}`);
    validateMark(where, target.mark);
    const group = byGateway.get(target.gateway) ?? [];
    const first = group[0];
    if (first !== undefined && first.mark !== target.mark) {
      throw new Error(`${where}: mark ${target.mark} differs from the gateway's other targets' mark ${first.mark}`);
    }
    if (group.some((other) => other.site === target.site)) throw new Error(`${where}: the site is listed twice`);
    group.push(target);
    byGateway.set(target.gateway, group);
  }
  return byGateway;
}

function validateOptions({ intervalMs, timeoutMs }: EchoerOptions): void {
  // ping(8) refuses intervals under 2 ms, even for root.
  if (!Number.isFinite(intervalMs) || intervalMs < 2) throw new Error(`startEchoer: intervalMs must be >= 2, got ${intervalMs}`);
  // net-ping silently turns a timeout of 0 into 2000 ms.
  if (!Number.isFinite(timeoutMs) || timeoutMs < 1) throw new Error(`startEchoer: timeoutMs must be >= 1, got ${timeoutMs}`);
}
