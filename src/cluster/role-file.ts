// The role file: the word keepalived's notify gave this router (`netgwm role`), read fresh each
// time hooks would run, so a running daemon follows a role change without a signal.
import { readFile } from 'node:fs/promises';
import type { Config } from '../config/load.js';
import { hookRole, parseRole, type HookRole, type Role } from '../core/cluster.js';
import { writeFileAtomic } from '../state/store.js';

/** The role written last; undefined when there is none (keepalived has not called yet) or it is unreadable. */
export async function readRole(file: string): Promise<Role | undefined> {
  return parseRole(await readFile(file, { encoding: 'utf8', flag: 'r' }).catch(() => undefined));
}

/** Root-only (0600): whoever could write it could silence or multiply the hooks. */
export async function writeRole(file: string, role: Role): Promise<void> {
  await writeFileAtomic(file, `${role}\n`, 0o600);
}

/** Whether this router's hooks run now, and the NETGWM_ROLE they get. */
export async function currentHookRole(config: Pick<Config, 'cluster'>): Promise<{ role: HookRole; runsHooks: boolean }> {
  if (!config.cluster) return hookRole(false, undefined);
  return hookRole(true, await readRole(config.cluster.role_file));
}
