// The post-replace.d step of a switch. The hooks of a switch are remembered in the state until
// every one has run, so that a cycle stopped in the middle (SIGTERM during a package upgrade, a
// crash) does not lose the VPN restart or the UDP flush: the next cycle runs what is left.
import type { Config } from './config/load.js';
import { addTotals } from './core/measurements.js';
import type { PendingHooks, State } from './core/types.js';
import type { GatewayInfo } from './core/types.js';
import type { Logger } from './log/logger.js';
import { hookArguments, hookEnvironment, listHooks, runHook } from './system/hooks.js';
import { saveState } from './state/store.js';

export interface HookJob {
  to: GatewayInfo;
  from?: GatewayInfo;
  reason: string;
}

/** Runs the hooks of a switch, one at a time, keeping `state.pendingHooks` up to date on disk. */
export async function runSwitchHooks(config: Config, log: Logger, state: State, job: HookJob, signal?: AbortSignal): Promise<void> {
  const hooks = await usableHooks(config, log, state);
  if (hooks.length === 0) return;
  state.pendingHooks = { ...job, done: [] };
  await saveStateLogged(config, log, state);
  await runPending(config, log, state, hooks, signal);
}

/** A cycle after an interrupted one: the hooks that did not run, if the route is still theirs. */
export async function resumeHooks(config: Config, log: Logger, state: State, current: string | undefined, signal?: AbortSignal): Promise<void> {
  const pending = state.pendingHooks;
  if (!pending) return;
  const hooks = (await usableHooks(config, log, state)).filter((hook) => !pending.done.includes(hook));
  if (pending.to.name !== current || hooks.length === 0) {
    // The route moved on since (its own switch runs the hooks), or nothing is left to run.
    delete state.pendingHooks;
    return;
  }
  log.event({ kind: 'hooks-resumed', to: pending.to.name, hooks: hooks.length });
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
  for (const refusal of refused) if (reported[refusal.hook] !== refusal.reason) log.event({ kind: 'hook-refused', ...refusal });
  if (refused.length > 0) state.refusedHooks = Object.fromEntries(refused.map((refusal) => [refusal.hook, refusal.reason]));
  else delete state.refusedHooks;
  return hooks;
}

async function runPending(config: Config, log: Logger, state: State, hooks: string[], signal?: AbortSignal): Promise<void> {
  const pending = state.pendingHooks as PendingHooks;
  const args = hookArguments(pending.to, pending.from);
  const env = hookEnvironment(pending.to, pending.from, pending.reason);
  for (const hook of hooks) {
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
    await saveState(config.state_dir, state);
  } catch (error) {
    log.event({ kind: 'state-save-failed', dir: config.state_dir, error: (error as Error).message });
  }
}
