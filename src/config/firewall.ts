// Cross-field checks of the firewall keys (gateway marks and tables, `nftables`, `conntrack`),
// done once at load time so that a cycle never meets a mark or table that cannot work.
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { hex } from '../core/ruleset.js';
import { commandPath } from '../system/command-path.js';
import { DEFAULT_MARK_MASK, type ConfigFile, type GatewayFile } from './schema.js';
import { readTableNames, tableId, tableIdRangeProblem } from './routing-tables.js';

export interface FirewallCheckOptions {
  rtTablesRoot?: string;
  /** Where `nft` and `conntrack` must be found; default what commands run with (see commandPath). */
  searchPath?: string;
}

export interface FirewallCheck {
  /** `[key.path, message]` pairs; empty when the keys are consistent. */
  problems: Array<[string, string]>;
  /** Gateway name → number of the routing table its `table` names. */
  tableIds: Map<string, number>;
}

type NamedGateway = GatewayFile & { name: string };

export async function checkFirewall(
  file: ConfigFile,
  gateways: NamedGateway[],
  checkTableId: number,
  options: FirewallCheckOptions = {},
): Promise<FirewallCheck> {
  const problems: Array<[string, string]> = [];
  const at = (key: string, message: string) => problems.push([key, message]);
  const { nftables, conntrack, probe } = file;
  const mask = nftables?.mask ?? DEFAULT_MARK_MASK;
  const maskName = nftables ? `nftables.mask (${hex(mask)})` : `the default mask ${hex(mask)} (see nftables.mask)`;

  const needsMark = nftables?.enabled ? 'with nftables enabled' : conntrack?.flush === 'old' ? 'with conntrack.flush: old' : undefined;
  const owners = new Map<number, string>();
  gateways.forEach((gateway, index) => {
    const key = `gateways.${gateway.name}.mark`;
    if (gateway.mark === undefined) {
      if (needsMark) at(key, `missing; ${needsMark} every gateway needs its own mark (e.g. ${hex(index + 1)})`);
      return;
    }
    const mark = gateway.mark;
    // A clash with a probe mark is checked with the probe paths (./probe-paths.ts).
    if ((mark & ~mask) !== 0) at(key, `expected a mark inside ${maskName}, got ${hex(mark)}`);
    const owner = owners.get(mark & mask);
    if (owner !== undefined) at(key, `${hex(mark)} is also the mark of gateway "${owner}"; give every gateway its own mark`);
    else owners.set(mark & mask, gateway.name);
  });

  const tableIds = await resolveGatewayTables(gateways, nftables !== undefined, checkTableId, options.rtTablesRoot, at);
  if (nftables && nftables.rule_pref <= probe.rule_pref) {
    at(
      'nftables.rule_pref',
      `expected a preference above probe.rule_pref (${probe.rule_pref}), got ${nftables.rule_pref}: probes must be routed before marked traffic`,
    );
  }
  const searchPath = options.searchPath ?? commandPath();
  if (nftables && !(await findCommand('nft', searchPath))) {
    at('nftables', `the nft command is not in PATH (${searchPath}); install the nftables package, or remove the section`);
  }
  if (conntrack && conntrack.flush !== 'none' && !(await findCommand('conntrack', searchPath))) {
    at('conntrack.flush', `the conntrack command is not in PATH (${searchPath}); install the conntrack package, or set flush: none`);
  }
  return { problems, tableIds };
}

// The system tables: a fwmark rule pointing there would make marks meaningless.
const SYSTEM_TABLES = new Map([
  [0, 'unspec'],
  [253, 'default'],
  [254, 'main'],
  [255, 'local'],
]);

async function resolveGatewayTables(
  gateways: NamedGateway[],
  withNftables: boolean,
  checkTableId: number,
  root: string | undefined,
  at: (key: string, message: string) => void,
): Promise<Map<string, number>> {
  const ids = new Map<string, number>();
  const withTable = gateways.filter((gateway) => gateway.table !== undefined);
  if (withTable.length === 0) return ids;
  const names = await readTableNames(root);
  for (const gateway of withTable) {
    const key = `gateways.${gateway.name}.table`;
    const table = gateway.table!;
    const id = tableId(table, names);
    const outOfRange = id === undefined ? undefined : tableIdRangeProblem(table, id);
    if (!withNftables) at(key, 'only used by the nftables section, which is missing; add `nftables: {enabled: true}` or remove the key');
    else if (id === undefined) {
      at(
        key,
        `routing table "${table}" is not declared in /etc/iproute2/rt_tables or rt_tables.d/*.conf; declare the uplink's table there (e.g. "101 ${table}"); netgwm fills it`,
      );
    } else if (outOfRange) at(key, outOfRange);
    else if (SYSTEM_TABLES.has(id))
      at(
        key,
        `expected the uplink's own routing table, got ${JSON.stringify(table)}, which is the system table ${SYSTEM_TABLES.get(id)} (${id})`,
      );
    else if (id === checkTableId)
      at(
        key,
        `expected the uplink's own routing table, got ${JSON.stringify(table)}, which is check_table (${id}); netgwm empties that table on every run`,
      );
    else {
      // Two uplinks' default routes in one table would replace each other in every cycle.
      const owner = [...ids].find(([, other]) => other === id)?.[0];
      if (owner !== undefined)
        at(key, `${JSON.stringify(table)} is also the table of gateway "${owner}"; give every uplink its own routing table`);
      else ids.set(gateway.name, id);
    }
  }
  return ids;
}

async function findCommand(name: string, searchPath: string): Promise<boolean> {
  for (const directory of searchPath.split(delimiter).filter(Boolean)) {
    if (
      await access(join(directory, name), constants.X_OK).then(
        () => true,
        () => false,
      )
    )
      return true;
  }
  return false;
}
