// The probe paths and the uplink tables in the kernel (see src/core/probe-paths.ts and
// src/core/uplink-tables.ts): read with one `ip -batch` that lists rules and routes, repaired
// together with one `ip -force -batch` only when something is missing or wrong, removed by
// `netgwm cleanup`. A family-6 config (`family: 6`, see src/config/families.ts) gets the same with
// `ip -6`: one read and at most one write per family.
//
// The `sport` rules of the tcp, http and dns probes (src/core/probe-paths.ts) are installed only
// while the config has a check site with a method: a NetGWM config leaves the kernel as before,
// and no other program's port in those ranges is routed as a probe for nothing. When they are
// installed, a range the kernel may also hand out as ephemeral ports is reported (`portsShared`).
import { readFile } from 'node:fs/promises';
import type { Config } from '../config/load.js';
import { LIMITS } from '../config/schema.js';
import { own } from '../core/records.js';
import {
  planProbePaths,
  probeTableId,
  sharedPorts,
  type IpRoute,
  type IpRule,
  type PortRange,
  type ProbePathLine,
  type ProbePathsWanted,
} from '../core/probe-paths.js';
import { siteMethod } from '../core/check-site.js';
import { resolveGateways } from '../core/dynamic-gateways.js';
import { planUplinkTables, type UplinkTable } from '../core/uplink-tables.js';
import { describeRoute } from '../log/events.js';
import type { Exec } from './exec.js';

export type { IpRoute, IpRule } from '../core/probe-paths.js';

export interface Routing {
  rules: IpRule[];
  routes: IpRoute[];
}

export interface ProbePathReport {
  /** What was changed, one `ip` command each, for the log; empty when all was right. */
  repaired: string[];
  /** Gateway name → why its probe route could not be installed (e.g. its link is down). */
  unreachable: Record<string, string>;
  /** Gateway name → the dev its probe route uses (for link events). */
  devices: Record<string, string>;
  /** What was changed in the uplink tables, one `ip` command each; empty when all was right. */
  tablesRepaired: string[];
  /** Changes of the uplink tables the kernel refused, with its reason. */
  tablesFailed: string[];
  /** Set when `sport` rules were just installed: their ports the kernel may also give other programs (see sharedPorts). */
  portsShared?: PortRange[];
}

/**
 * `family` 6: the config's IPv6 view, whose paths go through `ip -6`; absent: IPv4. Without
 * `check_sites`, no `sport` rule is wanted.
 */
type ProbeConfig = Pick<Config, 'gateways' | 'probe' | 'check_table_id'> & Partial<Pick<Config, 'check_sites'>> & { family?: 6 };

/**
 * Whether some check site has a method (tcp, http, dns), whose probes need the `sport` rules.
 * Takes the sites as written (a mapping is a method site) or compiled (a `method`, or a site key).
 */
export function hasMethodSites(sites: readonly unknown[] | undefined): boolean {
  return (sites ?? []).some((site) => {
    if (typeof site === 'string') return siteMethod(site) !== 'icmp';
    const method = (site as { method?: unknown } | null)?.method;
    return site !== null && typeof site === 'object' && method !== 'icmp';
  });
}

const familyOf = (config: { family?: 6 }): 4 | 6 => config.family ?? 4;
/** How a change is named in the log and cleanup's output: `ip route …`, `ip -6 route …`. */
const command = (family: 4 | 6) => (family === 6 ? 'ip -6' : 'ip');

/** Rules and every route of one family, in one spawn: `ip -N -j -batch -` prints one JSON line per command. */
export async function readRouting(exec: Exec, family: 4 | 6 = 4): Promise<Routing> {
  const { stdout } = await exec('ip', ['-N', '-j', `-${family}`, '-batch', '-'], { input: 'rule list\nroute show table all\n' });
  const [rules, routes] = stdout.split('\n').filter((line) => line.trim() !== '');
  return { rules: JSON.parse(rules ?? '[]') as IpRule[], routes: JSON.parse(routes ?? '[]') as IpRoute[] };
}

/** What the config wants, and what netgwm may remove: every table and mark a probe path of any config could use. */
export function probePathsWanted(config: ProbeConfig, withPaths = true): ProbePathsWanted {
  const ownTables = new Set(config.gateways.map((gateway) => gateway.table_id));
  const ownedTables = new Set<number>();
  const ownedMarks = new Set<number>();
  for (let slot = 0; slot <= LIMITS.gateways; slot++) {
    const table = probeTableId(config.check_table_id, slot);
    if (table <= 0xffffffff && !ownTables.has(table)) ownedTables.add(table);
    if (config.probe.mark + slot <= 0xffffffff) ownedMarks.add(config.probe.mark + slot);
  }
  const withPorts = hasMethodSites(config.check_sites);
  const paths = withPaths
    ? config.gateways.map(({ name, probe: { mark, table, ports }, ip, dev }) => ({
        gateway: name,
        mark,
        table,
        via: ip,
        dev,
        ...(withPorts && { ports }),
      }))
    : [];
  return { ...(config.family === 6 ? { family: 6 as const } : {}), pref: config.probe.rule_pref, paths, ownedTables, ownedMarks };
}

/**
 * The config with every `auto` gateway's address as the kernel has it now (see
 * src/core/dynamic-gateways.ts), from the cycle's one read.
 */
export function withKernelAddresses<T extends ProbeConfig>(config: T, routing: Routing): T {
  if (!config.gateways.some((gateway) => gateway.auto)) return config;
  const ownTables = new Set(probePathsWanted(config, false).ownedTables);
  for (const gateway of config.gateways) if (gateway.table_id !== undefined) ownTables.add(gateway.table_id);
  return { ...config, gateways: resolveGateways(config.gateways, routing.routes, ownTables) };
}

/** Every gateway with a `table`: its uplink table, via its address (as resolved) and dev. */
export function uplinkTablesWanted(config: Pick<Config, 'gateways'>): UplinkTable[] {
  return config.gateways.flatMap((gateway) =>
    gateway.table_id === undefined ? [] : [{ gateway: gateway.name, table: gateway.table_id, via: gateway.ip, dev: gateway.dev }],
  );
}

/**
 * Brings every gateway's probe path and uplink table to what the config wants and removes stale
 * ones (also the old single check table). Spawns nothing beyond the read when all is right, and
 * one `ip -batch` for every repair; a path that cannot be installed (its link is down) is
 * reported and does not stop the others.
 */
export async function syncProbePaths(exec: Exec, config: ProbeConfig, routing?: Routing): Promise<ProbePathReport> {
  const wanted = probePathsWanted(config);
  const family = familyOf(config);
  const before = routing ?? (await readRouting(exec, family));
  const plan = planProbePaths(before.rules, before.routes, wanted);
  const tableLines = planUplinkTables(before.routes, uplinkTablesWanted(config), config.family);
  const unchanged = { repaired: [], unreachable: {}, devices: plan.devices, tablesRepaired: [], tablesFailed: [] };
  if (plan.lines.length === 0 && tableLines.length === 0) return unchanged;

  // The two touch different tables; each plan removes before it adds.
  const batch = [...plan.lines, ...tableLines];
  const outcome = await runBatch(exec, batch, family);
  const failures = new Map([...outcome].filter(([index]) => index < plan.lines.length));
  const tableResults = batch.slice(plan.lines.length).map((entry, offset) => ({ entry, why: outcome.get(plan.lines.length + offset) }));
  const ip = command(family);
  const tablesRepaired = tableResults.filter(({ why }) => why === undefined).map(({ entry }) => `${ip} ${entry.line}`);
  const tablesFailed = tableResults.filter(({ why }) => why !== undefined).map(({ entry, why }) => `${ip} ${entry.line} (${why})`);
  if (plan.lines.length === 0) return { ...unchanged, tablesRepaired, tablesFailed };
  const after = await readRouting(exec, family);
  const again = planProbePaths(after.rules, after.routes, wanted);
  const devices: Record<string, string> = {};
  const unreachable: Record<string, string> = {};
  for (const gateway of config.gateways) {
    // In place only when nothing of its path is missing now (a route without its rule would let probes through main).
    const missing = again.lines.some((entry) => entry.gateway === gateway.name);
    const device = own(again.devices, gateway.name);
    if (!missing && device !== undefined) {
      devices[gateway.name] = device;
      continue;
    }
    const why = plan.lines.map((entry, index) => (entry.gateway === gateway.name ? failures.get(index) : undefined)).find(Boolean);
    unreachable[gateway.name] = `no route ${describeRoute(gateway)}: ${why ?? 'the kernel dropped it at once'}`;
  }
  const repaired = plan.lines.filter((_, index) => !failures.has(index)).map((entry) => `${ip} ${entry.line}`);
  const report = { repaired, unreachable, devices, tablesRepaired, tablesFailed };
  if (!repaired.some((line) => line.startsWith(`${ip} rule add iif lo sport `))) return report;
  const shared = await sharedProbePorts(config.gateways.map((gateway) => gateway.probe.ports));
  return shared.length > 0 ? { ...report, portsShared: shared } : report;
}

const LOCAL_PORT_RANGE = '/proc/sys/net/ipv4/ip_local_port_range';
const RESERVED_PORTS = '/proc/sys/net/ipv4/ip_local_reserved_ports';

/** The probe ports the kernel may also use as ephemeral ports; none when the files cannot be read. */
export async function sharedProbePorts(
  probe: PortRange[],
  files = { local: LOCAL_PORT_RANGE, reserved: RESERVED_PORTS },
): Promise<PortRange[]> {
  try {
    const [local, reserved] = await Promise.all([readFile(files.local, 'utf8'), readFile(files.reserved, 'utf8')]);
    const [from, to] = local.trim().split(/\s+/).map(Number) as [number, number];
    return sharedPorts(probe, { from, to }, parsePortList(reserved));
  } catch {
    return [];
  }
}

/** `61000-61127,8080` (ip_local_reserved_ports) → ranges. */
export function parsePortList(text: string): PortRange[] {
  return text
    .trim()
    .split(',')
    .filter((part) => part !== '')
    .map((part) => {
      const [from, to = from] = part.split('-').map(Number) as [number, number?];
      return { from, to };
    });
}

/**
 * Removes every probe path, the old check table and every route of netgwm's in the uplink tables
 * (`netgwm cleanup`); returns what it removed.
 */
export async function removeProbePaths(exec: Exec, config: ProbeConfig): Promise<string[]> {
  const family = familyOf(config);
  const { rules, routes } = await readRouting(exec, family);
  const lines = [...planProbePaths(rules, routes, probePathsWanted(config, false)).lines, ...planUplinkTables(routes, [], config.family)];
  if (lines.length === 0) return [];
  const failures = await runBatch(exec, lines, family);
  const ip = command(family);
  if (failures.size > 0)
    throw new Error(`could not remove ${[...failures].map(([index, why]) => `${ip} ${lines[index]!.line} (${why})`).join('; ')}`);
  return lines.map((entry) => `${ip} ${entry.line}`);
}

/**
 * Runs the lines with `-force`, so that one failing (a gateway whose link is down) does not stop
 * the others; returns line index → the error `ip` printed for it.
 */
async function runBatch(exec: Exec, lines: ProbePathLine[], family: 4 | 6): Promise<Map<number, string>> {
  const input = `${lines.map((entry) => entry.line).join('\n')}\n`;
  const { stderr, exitCode } = await exec('ip', [`-${family}`, '-force', '-batch', '-'], { input, reject: false });
  const failures = batchFailures(stderr);
  // ip did not get to the lines at all (not started, killed): every line failed.
  if (exitCode !== 0 && failures.size === 0)
    for (const index of lines.keys()) failures.set(index, stderr.trim() || `exit code ${exitCode}`);
  return failures;
}

/** `ip -batch` prints each failing line's error, then `Command failed -:N` (N from 1). */
export function batchFailures(stderr: string): Map<number, string> {
  const failures = new Map<number, string>();
  let message: string[] = [];
  for (const text of stderr.split('\n')) {
    const failed = /^Command failed -:(\d+)\s*$/.exec(text);
    if (!failed) {
      if (text.trim() !== '') message.push(text.trim());
      continue;
    }
    failures.set(Number(failed[1]) - 1, message.join('; ') || 'failed');
    message = [];
  }
  return failures;
}
