// Events of an HA pair member (README "HA pairs") and their log lines; events.ts merges them into
// the one formatter table.
import type { HookRole, Role } from '../core/cluster.js';
import type { Level } from './events.js';

export type ClusterEvent =
  | { kind: 'role-changed'; role: Role; was?: Role }
  | { kind: 'conntrackd-failed'; flag: string; does: string; error: string }
  | { kind: 'conntrackd-done'; role: Role; flags: string[] }
  | { kind: 'hooks-skipped'; role: HookRole; to: string; hooks: number }
  | { kind: 'role-hooks'; to: string; hooks: number }
  | { kind: 'role-no-uplink' };

type Formatters = { [K in ClusterEvent['kind']]: { level: Level; line: (event: Extract<ClusterEvent, { kind: K }>) => string } };

export const clusterFormatters: Formatters = {
  'role-changed': {
    level: 'info',
    line: (e) => `this router is now ${e.role}${e.was ? ` (was ${e.was})` : ''} in its HA pair`,
  },
  'conntrackd-failed': {
    level: 'error',
    line: (e) => `conntrackd ${e.flag} (${e.does}) failed: ${e.error}; is conntrackd running with cluster.conntrackd_config?`,
  },
  'conntrackd-done': { level: 'info', line: (e) => `conntrackd ${e.flags.join(', ')} done for role ${e.role}` },
  'hooks-skipped': {
    level: 'info',
    line: (e) => `not running the ${e.hooks} hook(s) of the switch to ${e.to}: this router is ${e.role}, hooks run on the master only`,
  },
  'role-hooks': { level: 'info', line: (e) => `became master: running the ${e.hooks} hook(s) of the current uplink ${e.to}` },
  'role-no-uplink': {
    level: 'warn',
    line: () => 'became master, but the default route uses none of the gateways: the hooks run at the next switch',
  },
};
