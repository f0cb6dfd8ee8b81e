// The decision: which gateway should carry the default route, and why. A pure function of
// config, remembered state, this cycle's observations and the time; it does no I/O.
import type { CoreEvent } from './events.js';
import { own } from './records.js';
import type { Gateway, GatewayObservation, GatewayRecord, Observations, State } from './types.js';

export interface DecisionInput {
  gateways: Gateway[]; // best first
  minUptimeMs: number;
  checkAllGateways: boolean;
  /** `auto` or the name of the pinned gateway. */
  mode: string;
  state: State;
  /** Name of the configured gateway the default route uses now, if any. */
  current?: string;
  observations: Observations;
  now: number;
}

export interface Decision {
  /** The state to remember (switch not yet recorded: that waits until the kernel accepted it). */
  state: State;
  /** Set when the default route should move to this gateway. */
  target?: Gateway;
  /** Why, in a few words, e.g. `isp1 down, 0/2 sites answered`. */
  reason: string;
  events: CoreEvent[];
}

export function chooseGateway(input: DecisionInput): Decision {
  const { state, events } = rememberObservations(input);
  const verdict = pickGateway({ ...input, state });
  // Once per outage of the pinned gateway, not every cycle: cron would mail each one.
  if (verdict.pinnedDown && state.pinnedDown !== verdict.pinnedDown) events.push({ kind: 'pinned-down', gateway: verdict.pinnedDown });
  if (verdict.pinnedDown) state.pinnedDown = verdict.pinnedDown;
  else delete state.pinnedDown;

  const anyUp = Object.values(input.observations).some((observation) => observation.up);
  if (!anyUp && !verdict.pinned && state.allDownSince === undefined) {
    state.allDownSince = input.now;
    events.push({ kind: 'all-down', current: input.current });
  } else if (anyUp && state.allDownSince !== undefined) {
    events.push({ kind: 'recovered', downForMs: input.now - state.allDownSince });
    delete state.allDownSince;
  }
  const target = verdict.target && verdict.target.name !== input.current ? verdict.target : undefined;
  return { state, target, reason: verdict.reason, events };
}

/** The order to probe gateways in: the current one first, then the others best first. */
export function probeOrder(input: Pick<DecisionInput, 'gateways' | 'mode' | 'current' | 'checkAllGateways'>): Gateway[] {
  const { gateways, mode, current } = input;
  if (mode !== 'auto' && !input.checkAllGateways) return gateways.filter((gateway) => gateway.name === mode);
  const first = gateways.filter((gateway) => gateway.name === current);
  return [...first, ...gateways.filter((gateway) => gateway.name !== current)];
}

/**
 * True when probing the gateways not yet observed cannot change the decision: the chosen one
 * is settled and all the rest rank below it (NetGWM probes only the current and better ones).
 */
export function probingDone(input: DecisionInput): boolean {
  if (input.checkAllGateways) return false;
  const unprobed = probeOrder(input).filter((gateway) => !Object.hasOwn(input.observations, gateway.name));
  if (unprobed.length === 0) return true;
  if (input.mode !== 'auto') return !unprobed.some((gateway) => gateway.name === input.mode);
  const { state } = rememberObservations(input);
  const verdict = pickGateway({ ...input, state });
  return verdict.settled !== undefined && unprobed.every((gateway) => gateway.priority > verdict.settled!.priority);
}

export function isStable(record: GatewayRecord | undefined, now: number, minUptimeMs: number): boolean {
  return record?.up === true && now - record.since >= minUptimeMs;
}

/** Milliseconds until a gateway that is up becomes stable (0 when it is). */
export function msUntilStable(record: GatewayRecord, now: number, minUptimeMs: number): number {
  return Math.max(0, record.since + minUptimeMs - now);
}

/**
 * When the next gateway better than the current one becomes stable (epoch ms), if one is up and
 * not stable yet: the daemon decides again then, so failback waits `min_uptime`, not
 * `min_uptime` plus part of a housekeeping interval.
 */
export function nextStableAt(input: Pick<DecisionInput, 'gateways' | 'state' | 'current' | 'minUptimeMs'>): number | undefined {
  const current = input.gateways.find((gateway) => gateway.name === input.current);
  const times = input.gateways
    .filter((gateway) => !current || gateway.priority < current.priority)
    .map((gateway) => own(input.state.gateways, gateway.name))
    .filter((record) => record?.up === true)
    .map((record) => record!.since + input.minUptimeMs);
  const future = times.filter((at) => at > (input.state.lastCycleAt ?? -Infinity));
  return future.length > 0 ? Math.min(...future) : undefined;
}

interface Verdict {
  target?: Gateway;
  reason: string;
  /** The gateway the decision rests on, once no better unprobed one could change it. */
  settled?: Gateway;
  pinned?: boolean;
  pinnedDown?: string;
}

function pickGateway(input: DecisionInput): Verdict {
  const { gateways, observations, state, now, minUptimeMs } = input;
  const upNow = gateways.filter((gateway) => own(observations, gateway.name)?.up);
  const stable = upNow.filter((gateway) => isStable(own(state.gateways, gateway.name), now, minUptimeMs));
  const current = gateways.find((gateway) => gateway.name === input.current);

  if (input.mode !== 'auto') {
    const pinned = gateways.find((gateway) => gateway.name === input.mode)!;
    const down = own(observations, pinned.name)?.up === false ? pinned.name : undefined;
    return { target: pinned, settled: pinned, pinned: true, pinnedDown: down, reason: `pinned to ${pinned.name} (mode)` };
  }
  if (current && own(observations, current.name)?.up) {
    const better = stable.find((gateway) => gateway.priority < current.priority);
    if (better) {
      const upFor = formatDuration(now - own(state.gateways, better.name)!.since);
      return { target: better, settled: better, reason: `${better.name} is back and stable, up for ${upFor}` };
    }
    return { target: current, settled: current, reason: `${current.name} up` };
  }
  const why = current ? describeDown(current.name, own(observations, current.name)) : 'no current gateway';
  if (stable[0]) return { target: stable[0], settled: stable[0], reason: why };
  if (upNow[0]) return { target: upNow[0], reason: `${why}; no gateway is stable yet, ${upNow[0].name} is the best one up` };
  return { reason: `${why}; no gateway answers` };
}

/** Applies this cycle's observations to the remembered up/down times. */
function rememberObservations(input: DecisionInput): { state: State; events: CoreEvent[] } {
  const { now, observations } = input;
  const events: CoreEvent[] = [];
  // A clock stepped back makes "up since" meaningless; restarting the count is the safe side.
  const clockWentBack = input.state.lastCycleAt !== undefined && now < input.state.lastCycleAt;
  if (clockWentBack) events.push({ kind: 'clock-went-back', byMs: input.state.lastCycleAt! - now });

  const gateways: Record<string, GatewayRecord> = {};
  for (const [name, record] of Object.entries(input.state.gateways)) {
    gateways[name] = clockWentBack && record.since > now ? { ...record, since: now } : { ...record };
  }
  for (const [name, observation] of Object.entries(observations)) {
    const before = own(gateways, name);
    const changed = before === undefined || before.up !== observation.up;
    // "Up continuously" needs an observation in every cycle: a gateway not probed last cycle
    // (NetGWM skips those worse than the current one) may have failed meanwhile.
    const seenLastCycle = before !== undefined && before.checkedAt === input.state.lastCycleAt;
    const keepSince = observation.up ? !changed && seenLastCycle && !clockWentBack : !changed;
    const since = keepSince ? before!.since : now;
    gateways[name] = { up: observation.up, since, checkedAt: now, reason: reasonOf(observation) };
    if (observation.degraded) gateways[name].degraded = true;
    if (changed) {
      events.push({ kind: observation.up ? 'gateway-up' : 'gateway-down', gateway: name, observation, wasKnown: before !== undefined });
    }
  }
  return { state: { ...input.state, gateways, lastCycleAt: now }, events };
}

/** Why a gateway is up or down, as `status` shows it: its health's reason, or what the probe saw. */
export function reasonOf(observation: GatewayObservation): string {
  if (observation.reason) return observation.reason;
  const state = observation.up ? 'up' : 'down';
  if (observation.error) return `${state}: ${observation.error}`;
  const probed = observation.sites.filter((site) => !site.skipped);
  return `${state}: ${probed.filter((site) => site.answered).length}/${probed.length} sites answered`;
}

function describeDown(name: string, observation: GatewayObservation | undefined): string {
  if (!observation) return `${name} not probed`;
  if (observation.error) return `${name} down, ${observation.error}`;
  if (observation.reason) return `${name} ${observation.reason}`;
  const probed = observation.sites.filter((site) => !site.skipped);
  return `${name} down, ${probed.filter((site) => site.answered).length}/${probed.length} sites answered`;
}

export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000));
  const [h, m, s] = [Math.floor(total / 3600), Math.floor((total % 3600) / 60), total % 60];
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m${String(s).padStart(2, '0')}s`;
  return `${s}s`;
}
