// The "netgwm_check table trick", made safe: only packets carrying the probe mark (set with
// SO_MARK on the prober's own socket) look up the check table, so no other traffic to a check
// site is ever diverted; and whatever a killed run left behind is removed by the next one.
import type { Gateway } from '../core/types.js';
import type { Exec } from './exec.js';
import { defaultRouteArgs } from './routes.js';

export interface CheckTable {
  id: number;
  mark: number;
  pref: number;
}

const hex = (mark: number) => `0x${mark.toString(16)}`;

function ruleArgs(table: CheckTable): string[] {
  return ['fwmark', hex(table.mark), 'lookup', String(table.id), 'pref', String(table.pref)];
}

/** Removes rules and routes an interrupted run left; returns what it removed, for the log. */
export async function removeLeftovers(exec: Exec, table: CheckTable): Promise<string[]> {
  const rules = JSON.parse((await exec('ip', ['-N', '-j', '-4', 'rule', 'list'])).stdout || '[]') as Array<{
    priority: number;
    fwmark?: string;
    table?: string;
  }>;
  const ours = rules.filter((rule) => rule.table === String(table.id) || (rule.priority === table.pref && rule.fwmark === hex(table.mark)));
  const routes = await exec('ip', ['-j', '-4', 'route', 'show', 'table', String(table.id)], { reject: false });
  // An empty table does not exist for the kernel: `ip` then fails with "FIB table does not exist".
  const routeCount = routes.exitCode === 0 ? (JSON.parse(routes.stdout || '[]') as unknown[]).length : 0;
  if (ours.length === 0 && routeCount === 0) return [];

  const script = ours.map((rule) => `rule del pref ${rule.priority}${rule.fwmark ? ` fwmark ${rule.fwmark}` : ''} lookup ${rule.table}`);
  if (routeCount > 0) script.push(`route flush table ${table.id}`);
  // Every line removes something just listed: a failure is real, and the cycle must not go on.
  await exec('ip', ['-4', '-batch', '-'], { input: `${script.join('\n')}\n` });
  return [
    ...ours.map((rule) => `ip rule pref ${rule.priority} lookup ${rule.table}`),
    ...(routeCount > 0 ? [`${routeCount} route(s) in table ${table.id}`] : []),
  ];
}

/** Adds the rule that sends packets carrying the probe mark (and only those) to the check table. */
export async function addProbeRule(exec: Exec, table: CheckTable): Promise<void> {
  await exec('ip', ['-4', 'rule', 'add', ...ruleArgs(table)]);
}

/**
 * Points the check table's default route at `gateway`; fails when the kernel cannot reach it.
 * The previous default goes first: the kernel resolves a new `via` in the route's own table
 * before main, so with the old default still there, `via` an address on another uplink would
 * be bound to the old uplink's device.
 */
export async function routeProbesVia(exec: Exec, table: CheckTable, gateway: Gateway, replacing: boolean): Promise<void> {
  const add = defaultRouteArgs(gateway, table.id, 'add').join(' ');
  const script = replacing ? `route del default table ${table.id}\n${add}\n` : `${add}\n`;
  await exec('ip', ['-4', '-batch', '-'], { input: script });
}

/** Removes the probe rule and empties the check table; never throws (a next run would clean up). */
export async function closeCheckTable(exec: Exec, table: CheckTable): Promise<void> {
  const script = `rule del ${ruleArgs(table).join(' ')}\nroute flush table ${table.id}\n`;
  await exec('ip', ['-4', '-force', '-batch', '-'], { input: script, reject: false }).catch(() => undefined);
}
