// Each gateway's probe path, compiled once at load time: gateway number i (1-based, its position
// in the file's `gateways` mapping, not its priority) probes with mark `probe.mark + i` through
// routing table `check_table + i` (skipping the system tables 253-255), by the rule
// `fwmark MARK lookup TABLE pref probe.rule_pref`.
//
// The tcp, http and dns probes cannot set a mark (Node's sockets have no SO_MARK): gateway number
// i binds them to a local port of its own range, `probe.port_base + (i-1)*64 … + 63`, and the rule
// `sport FROM-TO lookup TABLE pref probe.rule_pref` sends them through the same table (installed
// only while some check site has a method, see src/system/probe-paths.ts).
//
// Only an exact clash matters. A probe packet keeps its socket's mark (netgwm's nft output chain
// returns on `meta mark != 0`, so its connection never gets a gateway's ct mark), and the probe
// rules at probe.rule_pref come before the gateways' `fwmark M/MASK` rules (nftables.rule_pref + 1,
// checked to be above probe.rule_pref in ./firewall.ts); so a probe mark that merely equals a
// gateway's mark under the mask is harmless, but a gateway mark equal to a probe mark would send
// that gateway's traffic into the probe table.
import { probeTableId } from '../core/probe-paths.js';
import { hex } from '../core/ruleset.js';
import type { Gateway } from '../core/types.js';
import type { ConfigFile } from './schema.js';

export interface ProbePathsCheck {
  /** Gateway name → its probe mark, table and local ports. */
  paths: Map<string, Gateway['probe']>;
  /** `[key.path, message]` pairs; empty when every path can work. */
  problems: Array<[string, string]>;
}

const MAX_U32 = 0xffffffff;
/** Local ports per gateway for the tcp, http and dns probes: enough for every site's probe at once, with room to skip ports in use. */
export const PROBE_PORTS = 64;
const MAX_PORT = 65535;

/** The local ports of gateway number `index` (1-based). */
export function probePorts(portBase: number, index: number): { from: number; to: number } {
  const from = portBase + (index - 1) * PROBE_PORTS;
  return { from, to: from + PROBE_PORTS - 1 };
}

/**
 * `checkTableId` is undefined when check_table itself is wrong (already reported);
 * `gatewayTables` maps a gateway name to the number of its own `table`.
 */
export function compileProbePaths(
  file: Pick<ConfigFile, 'gateways' | 'probe'>,
  checkTableId: number | undefined,
  gatewayTables: Map<string, number>,
): ProbePathsCheck {
  const problems: Array<[string, string]> = [];
  const paths = new Map<string, Gateway['probe']>();
  const names = Object.keys(file.gateways);
  const count = names.length;
  const base = file.probe.mark;
  if (base + count > MAX_U32) {
    problems.push([
      'probe.mark',
      `expected a mark that leaves room for one probe mark per gateway (probe.mark + 1 … + ${count}) up to ${hex(MAX_U32)}, got ${hex(base)}`,
    ]);
  }
  const last = checkTableId === undefined ? 0 : probeTableId(checkTableId, count);
  if (last > MAX_U32) {
    problems.push([
      'check_table',
      `expected a table that leaves room for one probe table per gateway (check_table + 1 … + ${count}) up to ${MAX_U32}, got ${checkTableId}`,
    ]);
  }
  const lastPort = probePorts(file.probe.port_base, count).to;
  if (lastPort > MAX_PORT) {
    problems.push([
      'probe.port_base',
      `expected a port that leaves room for ${PROBE_PORTS} local ports per gateway (probe.port_base … + ${count * PROBE_PORTS - 1}) up to ${MAX_PORT}, got ${file.probe.port_base}`,
    ]);
  }
  if (problems.length > 0) return { paths, problems };

  names.forEach((name, index) => {
    const path = {
      mark: base + index + 1,
      table: probeTableId(checkTableId ?? 0, index + 1),
      ports: probePorts(file.probe.port_base, index + 1),
    };
    paths.set(name, path);
  });
  for (const [name, gateway] of Object.entries(file.gateways)) {
    const tableOwner = checkTableId === undefined ? undefined : names.find((other) => paths.get(other)!.table === gatewayTables.get(name));
    if (tableOwner !== undefined) {
      problems.push([
        `gateways.${name}.table`,
        `expected the uplink's own routing table, got ${JSON.stringify(gateway.table)}, which is the probe table of gateway "${tableOwner}" (check_table + ${names.indexOf(tableOwner) + 1}); pick another table or another check_table`,
      ]);
    }
    const markOwner = names.find((other) => paths.get(other)!.mark === gateway.mark);
    if (markOwner !== undefined) {
      problems.push([
        `gateways.${name}.mark`,
        `${hex(gateway.mark!)} is the probe mark of gateway "${markOwner}" (probe.mark + ${names.indexOf(markOwner) + 1}), so ${name}'s traffic would be routed as probes; pick another mark or another probe.mark`,
      ]);
    }
  }
  return { paths, problems };
}
