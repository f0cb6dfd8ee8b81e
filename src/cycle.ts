// One cycle: lock, clean leftovers, read the current route, probe, decide, switch, save, hooks.
import { join } from 'node:path';
import type { Config, Gateway } from './config/load.js';
import { chooseGateway, probeOrder, probingDone, type DecisionInput } from './core/decide.js';
import { addTotals, recordProbes } from './core/measurements.js';
import type { Observations, State } from './core/types.js';
import { firewallAfterSwitch, keepFirewall } from './firewall.js';
import type { GatewayInfo } from './log/events.js';
import type { Logger } from './log/logger.js';
import { createProber, type Ping } from './probe/probe.js';
import { publishReports } from './report/publish.js';
import { resolveSites, type ProbeTarget } from './probe/resolve.js';
import { removeLeftovers, type CheckTable } from './system/check-table.js';
import type { Exec } from './system/exec.js';
import { hookArguments, hookEnvironment, listHooks, runHook } from './system/hooks.js';
import { acquireLock } from './system/lock.js';
import { deviceTowards, matchGateway, readDefaultRoutes, replaceDefaultRoute, type DefaultRoute } from './system/routes.js';
import { loadState, MODE_FILE, readMode, saveState } from './state/store.js';

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

export interface CycleResult {
  current?: string;
  switchedTo?: string;
}

export async function runCycle(config: Config, deps: CycleDeps, signal?: AbortSignal): Promise<CycleResult> {
  const { exec, log } = deps;
  const lock = await acquireLock({ waitMs: deps.lockWaitMs, name: deps.lockName, signal });
  try {
    const startedAt = performance.now();
    const table: CheckTable = { id: config.check_table_id, mark: config.probe.mark, pref: config.probe.rule_pref };
    const leftovers = await removeLeftovers(exec, table);
    if (leftovers.length > 0) log.event({ kind: 'leftovers-removed', what: leftovers });

    const previous = await loadState(config.state_dir);
    if (previous.problem) log.event({ kind: 'state-unreadable', file: join(config.state_dir, 'state.json'), problem: previous.problem });
    const mode = await effectiveMode(config, log);
    const route = (await readDefaultRoutes(exec))[0];
    const current = matchGateway(route, config.gateways);

    const sites = await resolveSites(config.check_sites, previous.state.resolved, config.probe.resolve_timeout * 1000);
    sites.events.forEach((event) => log.event(event));
    const input: DecisionInput = {
      gateways: config.gateways,
      minUptimeMs: config.min_uptime * 1000,
      checkAllGateways: config.check_all_gateways,
      mode,
      state: previous.state,
      current: current?.name,
      observations: {},
      now: deps.clock(),
    };
    input.observations = await probeGateways(config, deps, input, sites.targets, table, signal);
    if (signal?.aborted) return { current: current?.name };

    const decision = chooseGateway(input);
    decision.events.forEach((event) => log.event(event));
    const state: State = recordProbes({ ...decision.state, resolved: sites.resolved }, input.observations, input.now, current?.name);
    let switchedTo: string | undefined;
    if (decision.target) {
      const from = current && gatewayInfo(current, route);
      if (await switchRoute(exec, log, decision.target, from, decision.reason)) {
        switchedTo = decision.target.name;
        // Route, then marks and conntrack, then the hooks: they see the finished state.
        const incomplete = await firewallAfterSwitch(config, deps, state, decision.target, current);
        state.lastSwitch = { at: input.now, from: current?.name, to: switchedTo, reason: decision.reason, ...(incomplete.length > 0 ? { incomplete } : {}) };
        state.active = switchedTo;
        state.totals = addTotals(state.totals, { switches: 1 });
        state.lastCycleMs = Math.round(performance.now() - startedAt);
        // Saved before the hooks: a hook may run for long, and the switch has happened.
        await saveState(config.state_dir, state);
        const hookFailures = await runHooks(config, exec, log, decision.target, from, decision.reason, signal);
        if (hookFailures > 0) {
          state.totals = addTotals(state.totals, { hookFailures });
          await saveState(config.state_dir, state);
        }
      }
    }
    if (!switchedTo) {
      await keepFirewall(config, deps, state, current);
      state.lastCycleMs = Math.round(performance.now() - startedAt);
      await saveState(config.state_dir, state);
    }
    await publishReports(config, state, mode, log, deps.clock());
    log.event({ kind: 'cycle-done', durationMs: Math.round(performance.now() - startedAt), current: switchedTo ?? current?.name, probed: Object.keys(input.observations) });
    return { current: switchedTo ?? current?.name, switchedTo };
  } finally {
    await lock.release();
  }
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

/** The mode set with `netgwm use` wins over the config's `mode` key. */
async function effectiveMode(config: Config, log: Logger): Promise<string> {
  const pinned = await readMode(config.state_dir);
  if (pinned === undefined) return config.mode;
  if (pinned === 'auto' || config.gateways.some((gateway) => gateway.name === pinned)) return pinned;
  log.event({ kind: 'mode-ignored', file: join(config.state_dir, MODE_FILE), value: pinned });
  return config.mode;
}

async function switchRoute(exec: Exec, log: Logger, target: Gateway, from: GatewayInfo | undefined, reason: string): Promise<boolean> {
  try {
    await replaceDefaultRoute(exec, target);
  } catch (error) {
    log.event({ kind: 'switch-failed', to: target, reason, error: (error as Error).message });
    return false;
  }
  log.event({ kind: 'switched', to: target, from, reason });
  return true;
}

/** Returns how many hooks failed (exit code not 0, killed or timed out). */
async function runHooks(config: Config, exec: Exec, log: Logger, target: Gateway, from: GatewayInfo | undefined, reason: string, signal?: AbortSignal): Promise<number> {
  const hooks = await listHooks(config.hooks_dir);
  if (hooks.length === 0) return 0;
  const to: GatewayInfo = { ...target, dev: target.dev ?? (target.ip ? await deviceTowards(exec, target.ip) : undefined) };
  const args = hookArguments(to, from);
  const env = hookEnvironment(to, from, reason);
  let failures = 0;
  for (const hook of hooks) {
    if (signal?.aborted) break;
    const result = await runHook(hook, args, env, config.hook_timeout * 1000, signal);
    log.event({ kind: 'hook-finished', ...result });
    if (result.exitCode !== 0) failures++;
  }
  return failures;
}

/** A gateway as the hooks should see it: the dev the kernel uses when the config names none. */
function gatewayInfo(gateway: Gateway, route: DefaultRoute | undefined): GatewayInfo {
  return { name: gateway.name, ip: gateway.ip ?? route?.gateway, dev: gateway.dev ?? route?.dev };
}
