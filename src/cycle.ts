// One cycle: lock, clean leftovers, read the current route, probe, decide, switch, save, hooks.
// (Hooks live in post-replace.ts, firewall steps in firewall.ts, reports in report/publish.ts.)
import { join } from 'node:path';
import type { Config } from './config/load.js';
import { chooseGateway, probeOrder, probingDone, type Decision, type DecisionInput } from './core/decide.js';
import { recordProbes, recordSwitch } from './core/measurements.js';
import type { Gateway, GatewayInfo, Observations, State } from './core/types.js';
import { firewallAfterSwitch, keepFirewall } from './firewall.js';
import { resumeHooks, runSwitchHooks, saveStateLogged, usableHooks } from './post-replace.js';
import type { Logger } from './log/logger.js';
import { createProber, type Ping } from './probe/probe.js';
import { publishReports } from './report/publish.js';
import { resolveSites, type ProbeTarget, type ResolvedSites } from './probe/resolve.js';
import { removeLeftovers, type CheckTable } from './system/check-table.js';
import type { Exec } from './system/exec.js';
import { acquireLock } from './system/lock.js';
import { matchGateway, readDefaultRoutes, replaceDefaultRoute, type DefaultRoute } from './system/routes.js';
import { loadState, MODE_FILE, readEffectiveMode, STATE_FILE } from './state/store.js';

export interface CycleDeps {
  exec: Exec;
  ping: Ping;
  log: Logger;
  /** Wall-clock time, epoch ms. */
  clock: () => number;
  /** How long to wait for another cycle to finish before giving up. */
  lockWaitMs: number;
  lockName?: string;
}

/** What the steps after the decision share. */
interface CycleContext {
  now: number;
  /** Milliseconds since the cycle started. */
  took: () => number;
  signal?: AbortSignal;
}

export async function runCycle(config: Config, deps: CycleDeps, signal?: AbortSignal): Promise<void> {
  const lock = await acquireLock({ waitMs: deps.lockWaitMs, name: deps.lockName, signal });
  try {
    const startedAt = performance.now();
    const table: CheckTable = { id: config.check_table_id, mark: config.probe.mark, pref: config.probe.rule_pref };
    await cleanLeftovers(deps, table);
    const { state: remembered, mode } = await recall(config, deps.log);
    const route = (await readDefaultRoutes(deps.exec))[0];
    const current = matchGateway(route, config.gateways);
    // Reports a hook it would refuse now, not at the next switch; an unreadable directory is the
    // switch's problem, not a reason to fail every cycle.
    await usableHooks(config, deps.log, remembered).catch(() => undefined);
    await resumeHooks(config, deps.log, remembered, current?.name, signal);
    const sites = await resolveCheckSites(config, remembered, deps.log);

    const input = decisionInput(config, remembered, mode, current, deps.clock());
    input.observations = await probeGateways(config, deps, input, sites.targets, table, signal);
    if (signal?.aborted) return;
    const decision = chooseGateway(input);
    decision.events.forEach((event) => deps.log.event(event));

    const state = recordProbes({ ...decision.state, resolved: sites.resolved }, input.observations, input.now, current?.name);
    const cycle: CycleContext = { now: input.now, took: () => Math.round(performance.now() - startedAt), signal };
    const switchedTo = decision.target && (await switchGateway(config, deps, cycle, state, decision, { gateway: current, route }));
    if (!switchedTo) await keepGateway(config, deps, cycle, state, current);
    await publishReports(config, state, mode, deps.log, deps.clock());
    deps.log.event({ kind: 'cycle-done', durationMs: cycle.took(), current: switchedTo ?? current?.name, probed: Object.keys(input.observations) });
  } finally {
    await lock.release();
  }
}

async function cleanLeftovers(deps: CycleDeps, table: CheckTable): Promise<void> {
  const leftovers = await removeLeftovers(deps.exec, table);
  if (leftovers.length > 0) deps.log.event({ kind: 'leftovers-removed', what: leftovers });
}

/** The remembered state (no history if the file is unusable) and the mode in force. */
async function recall(config: Config, log: Logger): Promise<{ state: State; mode: string }> {
  const loaded = await loadState(config.state_dir);
  if (loaded.problem) log.event({ kind: 'state-unreadable', file: join(config.state_dir, STATE_FILE), problem: loaded.problem });
  const { mode, ignored } = await readEffectiveMode(config);
  if (ignored !== undefined) log.event({ kind: 'mode-ignored', file: join(config.state_dir, MODE_FILE), value: ignored });
  return { state: loaded.state, mode };
}

async function resolveCheckSites(config: Config, state: State, log: Logger): Promise<ResolvedSites> {
  const sites = await resolveSites(config.check_sites, state.resolved, config.probe.resolve_timeout * 1000);
  sites.events.forEach((event) => log.event(event));
  return sites;
}

function decisionInput(config: Config, state: State, mode: string, current: Gateway | undefined, now: number): DecisionInput {
  return {
    gateways: config.gateways,
    minUptimeMs: config.min_uptime * 1000,
    checkAllGateways: config.check_all_gateways,
    mode,
    state,
    current: current?.name,
    observations: {},
    now,
  };
}

/**
 * Route, then marks and conntrack, then the hooks, so that hooks see the finished state.
 * Returns the new gateway's name, or undefined when the kernel refused the route.
 */
async function switchGateway(config: Config, deps: CycleDeps, cycle: CycleContext, state: State, decision: Decision, current: { gateway?: Gateway; route?: DefaultRoute }): Promise<string | undefined> {
  const target = decision.target!;
  const from = current.gateway && gatewayInfo(current.gateway, current.route);
  const to = await switchRoute(deps.exec, deps.log, target, from, decision.reason);
  if (!to) return undefined;
  const incomplete = await firewallAfterSwitch(config, deps, state, target, current.gateway);
  Object.assign(state, recordSwitch(state, { at: cycle.now, from: current.gateway?.name, to: target.name, reason: decision.reason, incomplete }));
  state.lastCycleMs = cycle.took();
  // Saved before the hooks: a hook may run for long, and the switch has happened.
  await saveStateLogged(config, deps.log, state);
  await runSwitchHooks(config, deps.log, state, { to, from, reason: decision.reason }, cycle.signal);
  return target.name;
}

/** No switch: keep the firewall in step (a no-op unless something changed) and save. */
async function keepGateway(config: Config, deps: CycleDeps, cycle: CycleContext, state: State, current: Gateway | undefined): Promise<void> {
  await keepFirewall(config, deps, state, current);
  state.lastCycleMs = cycle.took();
  await saveStateLogged(config, deps.log, state);
}

/** Probes in NetGWM's order and stops as soon as the rest cannot change the decision. */
async function probeGateways(config: Config, deps: CycleDeps, input: DecisionInput, targets: ProbeTarget[], table: CheckTable, signal?: AbortSignal): Promise<Observations> {
  const prober = createProber(deps.exec, table, deps.ping, { count: config.probe.count, timeoutMs: config.probe.timeout * 1000, signal });
  const observations: Observations = {};
  try {
    for (const gateway of probeOrder(input)) {
      if (signal?.aborted || probingDone({ ...input, observations })) break;
      observations[gateway.name] = await prober.probeGateway(gateway, targets);
    }
  } finally {
    await prober.close();
  }
  return observations;
}

/** The new gateway as the kernel routes it (with the dev it uses), or undefined when it refused. */
async function switchRoute(exec: Exec, log: Logger, target: Gateway, from: GatewayInfo | undefined, reason: string): Promise<GatewayInfo | undefined> {
  let route: DefaultRoute;
  try {
    route = await replaceDefaultRoute(exec, target);
  } catch (error) {
    log.event({ kind: 'switch-failed', to: target, reason, error: (error as Error).message });
    return undefined;
  }
  const to = gatewayInfo(target, route);
  log.event({ kind: 'switched', to, from, reason });
  return to;
}

/** A gateway as the hooks should see it: the dev the kernel uses when the config names none. */
function gatewayInfo(gateway: Gateway, route: DefaultRoute | undefined): GatewayInfo {
  return { name: gateway.name, ip: gateway.ip ?? route?.gateway, dev: gateway.dev ?? route?.dev };
}
