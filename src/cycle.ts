// One cycle: lock, then for each address family at once (IPv4, IPv6: each its own default route
// and decision, on the config's family view, see src/config/families.ts) keep the probe paths,
// read the current route, probe, decide, switch, save, hooks; then the reports.
// (Hooks live in post-replace.ts, firewall steps in firewall.ts, reports in report/publish.ts.)
import { join } from 'node:path';
import type { Config } from './config/load.js';
import { familyView, type Family } from './config/families.js';
import { pingedSites } from './config/check-sites.js';
import { chooseGateway, probeOrder, probingDone, type Decision, type DecisionInput } from './core/decide.js';
import { recordProbes } from './core/measurements.js';
import type { Gateway, Observations, State } from './core/types.js';
import { firewallAfterSwitch, keepFirewallShares, type Marking } from './firewall.js';
import { balanceNeeded, flushLeft } from './balance.js';
import { followAddress, noteAddresses, readCurrentRoute } from './current-route.js';
import { confirmSwitch, recordIntent, resumeSwitch, runSwitchHooks, saveStateLogged, usableHooks } from './post-replace.js';
import { atOnce, oneAtATime, type InTurn } from './in-turn.js';
import { familyLogger, type Logger } from './log/logger.js';
import { startProbes, type Ping, type ProbeOptions } from './probe/probe.js';
import { probeSite } from './probe/site-probe.js';
import type { SiteProber } from './probe/site-rounds.js';
import { publishReports } from './report/publish.js';
import { resolveSites, type ProbeTarget, type ResolvedSites, type SettledSites } from './probe/resolve.js';
import type { Exec } from './system/exec.js';
import { localAddresses } from './system/local-addresses.js';
import { acquireLock, type Lock } from './system/lock.js';
import { readRouting, syncProbePaths, withKernelAddresses, type ProbePathReport, type Routing } from './system/probe-paths.js';
import { defaultRoutesOf, gatewayInfo, replaceDefaultRoute, type DefaultRoute } from './system/routes.js';
import { loadState, MODE_FILE, readEffectiveMode, stateFileOf } from './state/store.js';

export interface CycleDeps {
  exec: Exec;
  ping: Ping;
  /** How check sites with a method are probed (default src/probe/site-probe.ts); tests pass a stand-in. */
  probeSite?: SiteProber;
  log: Logger;
  /** Wall-clock time, epoch ms. */
  clock: () => number;
  /** How long to wait for another cycle to finish before giving up. */
  lockWaitMs: number;
  /** The lock directory (see src/system/lock.ts); tests give their own. */
  lockDir?: string;
  /** The lock, when the caller started taking it already (a one-shot `run` does while its config loads). */
  lock?: Promise<Lock>;
  /** What each family marks new connections with: one nft table serves both (set by runCycle for a dual-stack config). */
  marking?: Marking;
  /** Runs a family's hooks after the other family's, never at once (set by runCycle for a dual-stack config). */
  hooksInTurn?: InTurn;
}

/** Each family's state as its cycle saved it (absent: the family's cycle ended before a decision). */
export type FamilyStates = Partial<Record<Family, State>>;

/**
 * Where a cycle's observations come from: the one-shot `run` probes (the default); the daemon
 * takes what its continuous monitor saw (src/monitor.ts). Undefined: nothing to decide on yet.
 */
export type Observe = (
  sites: { targets: ProbeTarget[]; devices: Record<string, string>; family: Family },
  input: DecisionInput,
  signal?: AbortSignal,
) => Promise<Observations | undefined>;

/** What the steps after the decision share. */
interface CycleContext {
  now: number;
  /** `auto` or the pinned gateway (a pinned default route is not balanced). */
  mode: string;
  /** Milliseconds since the cycle started. */
  took: () => number;
  signal?: AbortSignal;
  /** Lookups of check-site names still running in the background: remembered when the state is saved. */
  lookups: Promise<SettledSites>;
  /** The hooks that may run, as listed at the start of the cycle (undefined: the listing failed). */
  hooks?: string[];
}

/** Both families' cycles under one lock, probed at once; then the reports. Returns each family's state as saved. */
export async function runCycle(configured: Config, deps: CycleDeps, signal?: AbortSignal, observe?: Observe): Promise<FamilyStates> {
  const lock = await (deps.lock ?? acquireLock({ waitMs: deps.lockWaitMs, dir: deps.lockDir, signal }));
  try {
    const dualStack = configured.families.includes(6);
    const shared = dualStack
      ? {
          ...deps,
          marking: deps.marking ?? { gateways: configured.gateways, inTurn: oneAtATime() },
          hooksInTurn: deps.hooksInTurn ?? oneAtATime(),
        }
      : deps;
    const results = await Promise.all(
      configured.families.map((family) =>
        runFamilyCycle(familyView(configured, family), { ...shared, log: familyLogger(deps.log, family) }, signal, observe),
      ),
    );
    const states: FamilyStates = {};
    const modes: Partial<Record<Family, string>> = {};
    configured.families.forEach((family, index) => {
      const result = results[index];
      if (!result) return;
      states[family] = result.state;
      modes[family] = result.mode;
    });
    if (Object.keys(states).length > 0) await publishReports(configured, states, modes, deps.log, deps.clock(), deps.exec);
    return states;
  } finally {
    await lock.release();
  }
}

/** One family's cycle on its view of the config; undefined when it ended before a decision. */
async function runFamilyCycle(
  configured: Config,
  deps: CycleDeps,
  signal?: AbortSignal,
  observe?: Observe,
): Promise<{ state: State; mode: string } | undefined> {
  const startedAt = performance.now();
  const family = configured.family ?? 4;
  // The kernel's routing (one `ip` process) and the state file are read at once, the hooks
  // directory while the probe paths are checked.
  const [routing, { state: remembered, mode }] = await Promise.all([readRouting(deps.exec, family), recall(configured, deps.log)]);
  // `auto` gateways get their address from the kernel, for the whole cycle.
  const config = withKernelAddresses(configured, routing);
  noteAddresses(config.gateways, remembered, deps.log);
  // Reports a hook it would refuse now, not at the next switch; an unreadable directory is the
  // switch's problem, not a reason to fail every cycle.
  const hooksListed = usableHooks(config, deps.log, remembered).catch(() => undefined);
  const paths = await keepProbePaths(config, deps, routing);
  // The probe paths never touch the main table: the one read serves both.
  const found = await readCurrentRoute(deps.exec, deps.log, remembered, config.gateways, defaultRoutesOf(routing.routes));
  const { current } = found;
  if (deps.marking) deps.marking[family] = { ...deps.marking[family], active: current };
  const route = await followAddress(deps.exec, deps.log, current, found.route);
  const hooks = await hooksListed;
  const inTurn = deps.hooksInTurn ?? atOnce;
  await inTurn(() => resumeSwitch(config, deps.log, remembered, { gateway: current, route }, deps.clock(), hooks, signal));
  const sites = await resolveCheckSites(config, remembered, deps.clock());

  const input = decisionInput(config, remembered, mode, current, deps.clock());
  const observations = observe
    ? await observe({ targets: sites.targets, devices: paths.devices, family }, input, signal)
    : await probeGateways(config, deps, input, sites.targets, paths, signal);
  if (signal?.aborted || !observations) return undefined;
  input.observations = observations;
  const decision = chooseGateway(input);
  for (const event of decision.events) deps.log.event(event);

  const state = recordProbes(decision.state, input.observations, input.now, current?.name);
  const cycle: CycleContext = {
    now: input.now,
    mode,
    took: () => Math.round(performance.now() - startedAt),
    signal,
    lookups: sites.settled,
    hooks,
  };
  const switchedTo = decision.target && (await switchGateway(config, deps, cycle, state, decision, { gateway: current, route }));
  if (!switchedTo) await keepGateway(config, deps, cycle, state, current);
  deps.log.event({
    kind: 'cycle-done',
    durationMs: cycle.took(),
    current: switchedTo ?? current?.name,
    probed: Object.keys(input.observations),
  });
  return { state, mode };
}

/** Verifies every gateway's probe path and uplink table (from the cycle's one read) and repairs what is missing or wrong. */
async function keepProbePaths(config: Config, deps: CycleDeps, routing: Routing): Promise<ProbePathReport> {
  const report = await syncProbePaths(deps.exec, config, routing);
  if (report.repaired.length > 0) deps.log.event({ kind: 'probe-paths-repaired', what: report.repaired });
  if (report.portsShared) deps.log.event({ kind: 'probe-ports-shared', ranges: report.portsShared.map(({ from, to }) => `${from}-${to}`) });
  if (report.tablesRepaired.length > 0) deps.log.event({ kind: 'uplink-tables-repaired', what: report.tablesRepaired });
  if (report.tablesFailed.length > 0) deps.log.event({ kind: 'uplink-tables-failed', what: report.tablesFailed });
  return report;
}

/** The remembered state (no history if the file is unusable) and the mode in force. */
async function recall(config: Config, log: Logger): Promise<{ state: State; mode: string }> {
  const loaded = await loadState(config.state_dir, config.family);
  if (loaded.problem)
    log.event({ kind: 'state-unreadable', file: join(config.state_dir, stateFileOf(config.family)), problem: loaded.problem });
  const { mode, file, fileIgnored, problem } = await readEffectiveMode(config);
  if (problem !== undefined) log.event({ kind: 'mode-ignored', file: join(config.state_dir, MODE_FILE), problem });
  // Once, not every cycle; and not when the config's `mode` overrides the file: that is NetGWM's
  // rule, and `status` shows it.
  const { state } = loaded;
  if (fileIgnored !== 'unknown') delete state.ignoredModeFile;
  else if (state.ignoredModeFile !== file) {
    log.event({ kind: 'mode-ignored', file: join(config.state_dir, MODE_FILE), value: file! });
    state.ignoredModeFile = file;
  }
  return { state, mode };
}

/** The sites to probe now; lookups retried in the background settle by the end of the cycle. */
function resolveCheckSites(config: Config, state: State, now: number): Promise<ResolvedSites> {
  const memory = { resolved: state.resolved, unresolved: state.unresolved ?? {} };
  return resolveSites(pingedSites(config.check_sites), memory, {
    now,
    timeoutMs: config.probe.resolve_timeout * 1000,
    ownAddresses: localAddresses(),
    family: config.family ?? 4,
  });
}

/** What the lookups found, into the state about to be saved (after the route: they may take a while). */
async function rememberLookups(cycle: CycleContext, state: State, log: Logger): Promise<void> {
  const { resolved, unresolved, events } = await cycle.lookups;
  for (const event of events) log.event(event);
  state.resolved = resolved;
  if (Object.keys(unresolved).length > 0) state.unresolved = unresolved;
  else delete state.unresolved;
}

function decisionInput(config: Config, state: State, mode: string, current: Gateway | undefined, now: number): DecisionInput {
  return {
    gateways: config.gateways,
    minUptimeMs: config.min_uptime * 1000,
    // Shares and rules need every gateway's state, not only the current and better ones'.
    checkAllGateways: config.check_all_gateways || balanceNeeded(config),
    mode,
    state,
    current: current?.name,
    observations: {},
    now,
  };
}

/**
 * Intent, route, then marks and conntrack, then the hooks, so that hooks see the finished state.
 * Returns the new gateway's name, or undefined when the kernel refused the route.
 */
async function switchGateway(
  config: Config,
  deps: CycleDeps,
  cycle: CycleContext,
  state: State,
  decision: Decision,
  current: { gateway?: Gateway; route?: DefaultRoute },
): Promise<string | undefined> {
  const target = decision.target!;
  const from = current.gateway && gatewayInfo(current.gateway, current.route);
  await recordIntent(config, deps.log, state, { to: gatewayInfo(target, undefined), from, reason: decision.reason, at: cycle.now });
  const route = await switchRoute(deps.exec, deps.log, target, decision.reason);
  if (!route) {
    delete state.pendingHooks; // no switch happened (the caller saves)
    return undefined;
  }
  await confirmSwitch(config, deps.log, state, gatewayInfo(target, route), cycle.now);
  const incomplete = await firewallAfterSwitch(config, deps, state, target, current.gateway, cycle.mode);
  if (incomplete.length > 0) state.lastSwitch = { ...state.lastSwitch!, incomplete };
  await rememberLookups(cycle, state, deps.log);
  state.lastCycleMs = cycle.took();
  if (cycle.hooks?.length === 0) delete state.pendingHooks; // nothing to run, nothing to save again
  // Saved before the hooks: a hook may run for long, and the switch has happened.
  await saveStateLogged(config, deps.log, state);
  const inTurn = deps.hooksInTurn ?? atOnce;
  if (state.pendingHooks) await inTurn(() => runSwitchHooks(config, deps.log, state, cycle.hooks, cycle.signal));
  return target.name;
}

/** No switch: keep the firewall in step (a no-op unless something changed) and save. */
async function keepGateway(
  config: Config,
  deps: CycleDeps,
  cycle: CycleContext,
  state: State,
  current: Gateway | undefined,
): Promise<void> {
  const kept = await keepFirewallShares(config, deps, state, current, cycle.mode);
  // A member that left its share (down, or displaced): its connections go, now that the table is live.
  if (kept.left.length > 0) await flushLeft(config, deps, kept.left);
  await rememberLookups(cycle, state, deps.log);
  state.lastCycleMs = cycle.took();
  await saveStateLogged(config, deps.log, state);
}

/**
 * Probes every gateway NetGWM's order may need at once, each through its own probe path, then
 * takes the results in that order and stops (ending the other probes) as soon as the rest cannot
 * change the decision: all dead costs one probe timeout, not one per gateway.
 */
async function probeGateways(
  config: Config,
  deps: CycleDeps,
  input: DecisionInput,
  targets: ProbeTarget[],
  paths: ProbePathReport,
  signal?: AbortSignal,
): Promise<Observations> {
  const options: Omit<ProbeOptions, 'signal'> = {
    count: config.probe.count,
    timeoutMs: config.probe.timeout * 1000,
    minSites: config.probe.min_sites,
  };
  if (config.method_sites.length > 0) {
    options.methods = { sites: config.method_sites, probe: deps.probeSite ?? probeSite, family: config.family ?? 4 };
  }
  const probes = startProbes(deps.ping, probeOrder(input), targets, options, paths.unreachable, signal);
  const observations: Observations = {};
  try {
    for (const { gateway, observation } of probes.started) {
      if (signal?.aborted || probingDone({ ...input, observations })) break;
      observations[gateway.name] = await observation;
    }
  } finally {
    await probes.stop();
  }
  return observations;
}

/** The route as the kernel now has it, or undefined when it refused (logged). */
async function switchRoute(exec: Exec, log: Logger, target: Gateway, reason: string): Promise<DefaultRoute | undefined> {
  try {
    return await replaceDefaultRoute(exec, target);
  } catch (error) {
    log.event({ kind: 'switch-failed', to: target, reason, error: (error as Error).message });
    return undefined;
  }
}
