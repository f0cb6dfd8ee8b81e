// `netgwm role master|backup|fault`: what keepalived's notify script calls on each transition
// (netgwm-notify, one call at a time in keepalived's order when it reads the notify FIFO).
// In this order: the role file (so a cycle from now on runs hooks, or not), conntrackd (the synced
// connections in the kernel before traffic arrives), then, on becoming master, the hooks of the
// uplink in use, once, under the cycle lock (so they never interleave with a switch's hooks).
// The role file and conntrackd under the role lock: keepalived's per-instance notify does not wait
// for one call before the next (its FIFO does; the lock guards both), and two overlapping
// conntrackd sequences break each other (conntrackd answers a commit asked for during another at
// once, without committing; the flush that follows is then refused).
// `conntrackd -c` itself returns only once the commit has ended (the daemon keeps the client's
// socket open until then), so each sequence runs its steps one after the other.
import type { Config } from '../config/load.js';
import { familyView } from '../config/families.js';
import type { Role } from '../core/cluster.js';
import type { Logger } from '../log/logger.js';
import type { Exec } from '../system/exec.js';
import { listHooks } from '../system/hook-list.js';
import { hookArguments, hookEnvironment, runHook } from '../system/hooks.js';
import type { Lock } from '../system/lock.js';
import { gatewayInfo, matchGateway, readDefaultRoutes } from '../system/routes.js';
import { syncConntrackd } from './conntrackd.js';
import { readRole, writeRole } from './role-file.js';

export interface RoleDeps {
  exec: Exec;
  log: Logger;
  lock: () => Promise<Lock>;
  /** The role lock (one `netgwm role` at a time). */
  roleLock: () => Promise<Lock>;
}

export interface RoleOutcome {
  /** conntrackd flags that failed. */
  conntrackdFailed: string[];
  /** Hooks run as the new master. */
  hooksRun: number;
}

export async function becomeRole(config: Config, role: Role, deps: RoleDeps): Promise<RoleOutcome> {
  const cluster = config.cluster!;
  const roleLock = await deps.roleLock();
  let was: Role | undefined;
  let conntrackdFailed: string[];
  try {
    was = await readRole(cluster.role_file);
    await writeRole(cluster.role_file, role);
    if (was !== role) deps.log.event({ kind: 'role-changed', role, ...(was && { was }) });
    conntrackdFailed = cluster.conntrackd ? await syncConntrackd(cluster, role, deps.exec, deps.log) : [];
  } finally {
    await roleLock.release();
  }
  // keepalived may say MASTER again (after a reload): the hooks announce a change, not a repeat.
  const hooksRun = role === 'master' && was !== 'master' ? await runMasterHooks(config, deps) : 0;
  return { conntrackdFailed, hooksRun };
}

/** The hooks of the uplink the default route uses now, with NETGWM_EVENT=role. */
async function runMasterHooks(config: Config, deps: RoleDeps): Promise<number> {
  const lock = await deps.lock();
  try {
    const family = config.families[0] ?? 4;
    const view = familyView(config, family);
    const route = (await readDefaultRoutes(deps.exec, family))[0];
    const gateway = matchGateway(route, view.gateways);
    if (!gateway) {
      deps.log.event({ kind: 'role-no-uplink' });
      return 0;
    }
    const { hooks, refused } = await listHooks(config.hooks_dir);
    for (const refusal of refused) deps.log.event({ kind: 'hook-refused', ...refusal });
    const to = gatewayInfo(gateway, route);
    deps.log.event({ kind: 'role-hooks', to: to.name, hooks: hooks.length });
    const env = {
      ...hookEnvironment(to, undefined, 'this router became master of its HA pair'),
      NETGWM_EVENT: 'role',
      NETGWM_ROLE: 'master',
      NETGWM_FAMILY: String(family),
    };
    for (const hook of hooks)
      deps.log.event({ kind: 'hook-finished', ...(await runHook(hook, hookArguments(to), env, config.hook_timeout * 1000)) });
    return hooks.length;
  } finally {
    await lock.release();
  }
}
