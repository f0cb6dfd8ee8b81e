// `netgwm cleanup`: removes what netgwm installed in the kernel — every probe path (and the old
// single check table), and its nft table and fwmark rules the way `nftables.enabled: false` does —
// and leaves the default route alone. The package's prerm runs it on removal.
import { existsSync } from 'node:fs';
import type { Config } from './config/load.js';
import { familyView } from './config/families.js';
import { nftablesSchema } from './config/schema.js';
import { keepFirewall } from './firewall.js';
import type { Logger } from './log/logger.js';
import { saveStateLogged } from './post-replace.js';
import { loadState } from './state/store.js';
import type { Exec } from './system/exec.js';
import { acquireLock } from './system/lock.js';
import { removeProbePaths } from './system/probe-paths.js';

export interface CleanupDeps {
  exec: Exec;
  log: Logger;
  clock: () => number;
  lockWaitMs: number;
  lockDir?: string;
}

/** What was removed, one line each; throws when something could not be removed. */
export async function cleanup(config: Config, deps: CleanupDeps): Promise<string[]> {
  const lock = await acquireLock({ waitMs: deps.lockWaitMs, dir: deps.lockDir });
  try {
    const removed = await removeProbePaths(deps.exec, familyView(config, 4));
    // IPv6 paths too, whatever the config says now (it may have lost its `ip6` since), when the kernel has IPv6.
    if (existsSync('/proc/net/if_inet6')) removed.push(...(await removeProbePaths(deps.exec, familyView(config, 6))));
    let done = true;
    // Each family's fwmark rules are its own (`ip -4`, `ip -6`).
    for (const family of config.families) done = (await removeFirewall(familyView(config, family), deps)) && done;
    if (!done) throw new Error(`could not remove the nft table or fwmark rules (see ${config.log_file})`);
    return removed;
  } finally {
    await lock.release();
  }
}

/** The nft table and fwmark rules, as `nftables.enabled: false` removes them; true when done (or nothing to do). */
async function removeFirewall(config: Config, deps: CleanupDeps): Promise<boolean> {
  const { state } = await loadState(config.state_dir, config.family);
  const loaded = state.firewall;
  if (!config.nftables && !loaded?.table) return true;
  const nftables = { ...(config.nftables ?? nftablesSchema.parse({ table: loaded!.table, rule_pref: loaded!.rulePref })), enabled: false };
  const done = await keepFirewall({ ...config, nftables }, deps, state, undefined);
  await saveStateLogged(config, deps.log, state);
  return done;
}
