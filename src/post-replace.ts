// A switch, from the intent to the last post-replace.d hook. The switch is remembered in the state
// from before the route changes until every hook has run, so that a cycle stopped at any point
// (SIGTERM during a package upgrade, kill -9, a crash) does not lose the switch line, the VPN
// restart or the UDP flush: the next cycle finishes what is left.
import { currentHookRole } from './cluster/role-file.js';
import type { Config } from './config/load.js';
import { addTotals, recordSwitch } from './core/measurements.js';
import { own } from './core/records.js';
import type { Gateway, GatewayInfo, PendingHooks, State } from './core/types.js';
import type { Logger } from './log/logger.js';
import { listHooks } from './system/hook-list.js';
import { hookArguments, hookEnvironment, runHook } from './system/hooks.js';
import { gatewayInfo, type DefaultRoute } from './system/routes.js';
import { saveState } from './state/store.js';

/**
 * Records the switch about to be made, before `ip route replace`: if the process dies at any
 * moment after the kernel took the route, the next cycle finds it and finishes it.
 */
export async function recordIntent(
  config: Config,
  log: Logger,
  state: State,
  intent: { to: GatewayInfo; from?: GatewayInfo; reason: string; at: number },
): Promise<void> {
  state.pendingHooks = { ...intent, done: [], unconfirmed: true };
  await saveStateLogged(config, log, state);
}

/**
 * The kernel uses the intended route (`to` as it routes it): logs the switch line, records the
 * switch and saves, before anything slower (firewall, hooks) can be interrupted.
 */
export async function confirmSwitch(config: Config, log: Logger, state: State, to: GatewayInfo, now: number): Promise<void> {
  const pending = state.pendingHooks as PendingHooks;
  pending.to = to;
  delete pending.unconfirmed;
  log.event({ kind: 'switched', to, from: pending.from, reason: pending.reason });
  Object.assign(state, recordSwitch(state, { at: pending.at ?? now, from: pending.from?.name, to: to.name, reason: pending.reason }));
  await saveStateLogged(config, log, state);
}

/**
 * Runs the hooks of the confirmed switch, one at a time, keeping `state.pendingHooks` up to date on
 * disk. `hooks`: as the cycle listed them; listed here when that failed (the error is the switch's).
 */
export async function runSwitchHooks(
  config: Config,
  log: Logger,
  state: State,
  hooks: string[] | undefined,
  signal?: AbortSignal,
): Promise<void> {
  await runPending(config, log, state, hooks ?? (await usableHooks(config, log, state)), signal);
}

/**
 * A cycle after an interrupted one, with the route as it is now: finishes the switch if the route
 * is still its target (logging the switch line first if that may have been lost), then runs the
 * hooks that did not run. A switch killed before the route changed left the route elsewhere: it
 * is forgotten, and this cycle decides afresh.
 */
export async function resumeSwitch(
  config: Config,
  log: Logger,
  state: State,
  current: { gateway?: Gateway; route?: DefaultRoute },
  now: number,
  listed: string[] | undefined,
  signal?: AbortSignal,
): Promise<void> {
  const pending = state.pendingHooks;
  if (!pending) return;
  if (!current.gateway || pending.to.name !== current.gateway.name) {
    // The route moved on since (its own switch runs the hooks), or never changed.
    delete state.pendingHooks;
    return;
  }
  if (pending.unconfirmed) await confirmSwitch(config, log, state, gatewayInfo(current.gateway, current.route), now);
  const hooks = (listed ?? (await usableHooks(config, log, state))).filter((hook) => !pending.done.includes(hook));
  if (hooks.length === 0) {
    delete state.pendingHooks;
    return;
  }
  // A backup skips them (runPending says so) rather than announcing that it resumes them.
  if ((await currentHookRole(config)).runsHooks) log.event({ kind: 'hooks-resumed', to: pending.to.name, hooks: hooks.length });
  await runPending(config, log, state, hooks, signal);
}

/**
 * The hooks that may run. Each refused one is logged once, and again only when the reason changes
 * (its owner or mode): the state remembers what was said, for the daemon and cron runs alike.
 * Every cycle checks, so that a planted or loosened hook is reported before a switch needs it.
 */
export async function usableHooks(config: Config, log: Logger, state: State): Promise<string[]> {
  const { hooks, refused } = await listHooks(config.hooks_dir);
  const reported = state.refusedHooks ?? {};
  for (const refusal of refused) if (own(reported, refusal.hook) !== refusal.reason) log.event({ kind: 'hook-refused', ...refusal });
  if (refused.length > 0) state.refusedHooks = Object.fromEntries(refused.map((refusal) => [refusal.hook, refusal.reason]));
  else delete state.refusedHooks;
  return hooks;
}

async function runPending(config: Config, log: Logger, state: State, hooks: string[], signal?: AbortSignal): Promise<void> {
  const pending = state.pendingHooks as PendingHooks;
  // In an HA pair only the master announces a switch; the route itself changed in every role.
  const { role, runsHooks } = await currentHookRole(config);
  if (!runsHooks && hooks.length > 0) log.event({ kind: 'hooks-skipped', role, to: pending.to.name, hooks: hooks.length });
  const args = hookArguments(pending.to, pending.from);
  // NetGWM's six arguments are the switching family's: IPv4 as ever, the IPv6 values on an IPv6 switch.
  const env = {
    ...hookEnvironment(pending.to, pending.from, pending.reason),
    NETGWM_FAMILY: String(config.family ?? 4),
    NETGWM_ROLE: role,
  };
  for (const hook of runsHooks ? hooks : []) {
    if (signal?.aborted) return; // what is left stays pending for the next cycle
    const result = await runHook(hook, args, env, config.hook_timeout * 1000, signal);
    log.event({ kind: 'hook-finished', ...result });
    if (signal?.aborted) return; // stopped, not finished: it runs again next time
    pending.done.push(hook);
    if (result.exitCode !== 0) state.totals = addTotals(state.totals, { hookFailures: 1 });
    await saveStateLogged(config, log, state);
  }
  delete state.pendingHooks;
  await saveStateLogged(config, log, state);
}

/**
 * Saves the state; a failure (disk full, read-only) is logged, not thrown: once the route has
 * moved, the hooks must still run.
 */
export async function saveStateLogged(config: Config, log: Logger, state: State): Promise<void> {
  try {
    await saveState(config.state_dir, state, config.family);
  } catch (error) {
    log.event({ kind: 'state-save-failed', dir: config.state_dir, error: (error as Error).message });
  }
}
