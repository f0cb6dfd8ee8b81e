// `netgwm replay --policy netgwm-classic`: what the original NetGWM would have done on the same
// probe events, as a baseline (see REFERENCE: NetGWM's decision). A run every 60 s (cron); a
// gateway is up when a site answers one of `ping -c 2 -W 1`: its echoes are taken from the
// rounds sent at the probe's start and a second later, an answer counting if it came within 1 s.
// Sites are tried in order until one answers, gateways one after the other, so a run takes
// 1–2 s per site probed. If the current gateway is up, the better ones are probed best first and
// the route moves to the first one up for more than min_uptime; if it is down (or there is none),
// to the first gateway up, whatever its uptime. A gateway never seen counts as up since ever.
// The cron minute falls half-way through the scenario's minutes (first run 30 s after the start):
// an outage at a random moment waits half a minute for the next run on average.
import type { ProbeEvent } from './probe-events.js';
import type { ReplayRun, ReplaySetup, ReplayWindow } from './replay.js';
import type { Echo } from './health.js';

export const CLASSIC = { cycleMs: 60_000, echoGapMs: 1000, waitMs: 1000 } as const;

interface SentRound {
  at: number;
  echoes: Echo[];
}

export function replayClassic(
  setup: Pick<ReplaySetup, 'gateways' | 'minUptimeMs' | 'checkAllGateways' | 'mode'>,
  events: Iterable<ProbeEvent>,
  window: ReplayWindow,
): ReplayRun {
  const rounds = new Map<string, SentRound[]>(setup.gateways.map((gateway) => [gateway.name, []]));
  for (const event of events) if (event.kind === 'round') rounds.get(event.gateway)?.push({ at: event.at, echoes: event.echoes });
  for (const list of rounds.values()) list.sort((a, b) => a.at - b.at);

  const run: ReplayRun = { startAt: window.startAt, endAt: window.endAt, switches: [], health: [], decisions: 0 };
  if (window.start) run.start = window.start;
  let current = window.start;
  const records = new Map<string, { up: boolean; since: number }>();
  const byPriority = [...setup.gateways].sort((a, b) => a.priority - b.priority);

  /** Probes gateway `name` from `at`: up or not, and when the probe ended. */
  const probe = (name: string, at: number, cycle: number): { up: boolean; end: number } => {
    const list = rounds.get(name) ?? [];
    // A round sent much later than the ping would have been is no answer (a gap in a recording).
    const near = (from: number) => {
      const round = list[firstAtOrAfter(list, from)];
      return round && round.at < from + CLASSIC.echoGapMs + CLASSIC.waitMs ? round : undefined;
    };
    const first = near(at);
    const second = near(at + CLASSIC.echoGapMs);
    const sites = (first ?? second)?.echoes.map((echo) => echo.site) ?? [];
    let end = at;
    let up = false;
    for (const site of sites) {
      const answer = [second, first]
        .map((round) => round?.echoes.find((echo) => echo.site === site))
        .find((echo) => echo && answeredInTime(echo));
      end += CLASSIC.echoGapMs + (answer ? (answer.rttMs ?? 0) : CLASSIC.waitMs);
      if (answer) {
        up = true;
        break;
      }
    }
    const before = records.get(name);
    if (before?.up !== up) {
      const reason = up
        ? 'up: a site answered ping -c 2 -W 1'
        : `down: ${sites.length === 0 ? 'no round to take echoes from' : 'no site answered ping -c 2 -W 1'}`;
      run.health.push({ at: end, gateway: name, from: before ? (before.up ? 'up' : 'down') : 'unknown', to: up ? 'up' : 'down', reason });
    }
    // Never seen: up since ever, as NetGWM's empty store says.
    const since = before === undefined ? -Infinity : up && !before.up ? cycle : before.since;
    records.set(name, { up, since });
    return { up, end };
  };

  const lastStart = window.endAt - CLASSIC.echoGapMs - CLASSIC.waitMs;
  for (let cycle = window.startAt + CLASSIC.cycleMs / 2; cycle <= lastStart; cycle += CLASSIC.cycleMs) {
    run.decisions++;
    let at = cycle;
    let target: string | undefined;
    let reason = '';
    const probed = new Set<string>();
    const probeAt = (name: string) => {
      probed.add(name);
      const result = probe(name, at, cycle);
      at = result.end;
      return result.up;
    };
    if (setup.mode !== 'auto') {
      target = setup.mode;
      reason = `pinned to ${setup.mode} (mode)`;
    } else {
      const currentGateway = byPriority.find((gateway) => gateway.name === current);
      if (currentGateway && probeAt(currentGateway.name)) {
        for (const better of byPriority.filter((gateway) => gateway.priority < currentGateway.priority)) {
          if (probeAt(better.name) && cycle - records.get(better.name)!.since > setup.minUptimeMs) {
            target = better.name;
            reason = `${better.name} is up and stable`;
            break;
          }
        }
      } else {
        for (const gateway of byPriority.filter((gateway) => gateway.name !== current)) {
          if (probeAt(gateway.name)) {
            target = gateway.name;
            reason = `${current ?? 'no gateway'} down; ${gateway.name} is the first one up`;
            break;
          }
        }
      }
    }
    if (setup.checkAllGateways) for (const gateway of byPriority) if (!probed.has(gateway.name)) probeAt(gateway.name);
    if (target !== undefined && target !== current) {
      run.switches.push(current === undefined ? { at, to: target, reason } : { at, from: current, to: target, reason });
      current = target;
    }
  }
  return run;
}

/** An echo `ping -W 1` would have counted. */
function answeredInTime(echo: Echo): boolean {
  return echo.answered && (echo.rttMs ?? 0) <= CLASSIC.waitMs;
}

/** Index of the first round sent at or after `at` (list.length if none). */
function firstAtOrAfter(list: SentRound[], at: number): number {
  let [low, high] = [0, list.length];
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (list[middle]!.at < at) low = middle + 1;
    else high = middle;
  }
  return low;
}
