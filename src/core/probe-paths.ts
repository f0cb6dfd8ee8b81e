// Probe paths: per gateway, `ip rule fwmark MARK lookup TABLE` and, in TABLE, a default route via
// that gateway, installed once and kept. Pure: given what `ip -N -j rule list` and `ip -N -j
// route show table all` printed, it says which `ip -batch` lines bring the kernel to what the
// config wants, and changes nothing that is right.
//
// Each probe table also holds `unreachable default metric 4294967295`: when the kernel deletes
// the gateway's route (its link went down), a probe must fail at once, not fall through the rule
// to the main table and come back through another uplink, which would make a dead gateway look
// alive. A lookup that meets the unreachable route fails, so `ip route add … via` still resolves
// the gateway's address in the main table (the kernel falls back to a full lookup then).
//
// The tcp, http and dns probes cannot carry a mark: a path with `ports` also gets
// `iif lo sport FROM-TO lookup TABLE` at the same preference, which sends every socket of the
// router bound to a local port of that range through the table (src/probe/site-probe.ts binds
// them so). `iif lo` keeps forwarded traffic out: a LAN host's connection from such a port
// (Windows and macOS pick theirs from 49152-65535) is routed as before.
//
// IPv6 (a family-6 config, see src/config/families.ts) uses the same marks, tables and words with
// `ip -6`: the kernel keeps the two families' rules and tables apart. It differs in one thing: an
// IPv6 route added without a metric gets 1024 (IP6_RT_PRIO_USER; even `metric 0` does), not 0;
// and its guard has metric 4294967294, because `ip -6 route flush` skips an unreachable default
// at 4294967295, taking it for the kernel's own null route.
import { hex } from './ruleset.js';

/** A rule as `ip -N -j -4 rule list` prints it. */
export interface IpRule {
  priority: number;
  src?: string;
  table?: string;
  fwmark?: string;
  fwmask?: string;
  /** `iif lo`: only the router's own packets. */
  iif?: string;
  /** A `sport FROM-TO` rule; a single port is `sport`. */
  sport_start?: number;
  sport_end?: number;
  sport?: number;
  [key: string]: unknown;
}

/** A range of local ports, both ends included. */
export interface PortRange {
  from: number;
  to: number;
}

/** A route as `ip -N -j -4 route show table all` prints it (no `table` in the main table; `type` absent for unicast). */
export interface IpRoute {
  type?: string;
  dst: string;
  gateway?: string;
  dev?: string;
  table?: string;
  metric?: number;
  flags?: string[];
  [key: string]: unknown;
}

/** One gateway's probe path: packets with `mark` look up `table`, whose default route goes via the gateway. */
export interface ProbePath {
  gateway: string;
  mark: number;
  table: number;
  via?: string;
  dev?: string;
  /** Local ports whose sockets use the path too (`ip rule sport`); absent: no such rule. */
  ports?: PortRange;
}

export interface ProbePathsWanted {
  /** 6 for the IPv6 paths (`ip -6`), absent for IPv4. */
  family?: 6;
  /** Preference of every probe rule (`probe.rule_pref`). */
  pref: number;
  paths: ProbePath[];
  /** Tables whose rules and routes are netgwm's: the old check table and the probe tables any config could give. */
  ownedTables: ReadonlySet<number>;
  /** Marks a probe rule at `pref` may carry: `probe.mark` itself (the old layout) and those above it. */
  ownedMarks: ReadonlySet<number>;
}

/** A line for `ip -4 -force -batch -`, and the gateway whose path it installs (none for a removal). */
export interface ProbePathLine {
  line: string;
  gateway?: string;
}

export interface ProbePathsPlan {
  /** Removals first, then per gateway what its path lacks; empty when all is right. */
  lines: ProbePathLine[];
  /** Gateway → the dev its probe route uses, for the paths already in place. */
  devices: Record<string, string>;
}

/**
 * The probe table of gateway number `index` (1-based; 0 gives check_table itself, the old single
 * table): `checkTable + index`, skipping the system tables 253-255 (default, main, local).
 */
export function probeTableId(checkTable: number, index: number): number {
  const table = checkTable + index;
  return checkTable < 253 && table >= 253 ? table + 3 : table;
}

/** The metric of the unreachable guard: after any real default route. */
export const GUARD_METRIC = 0xffffffff;
/** IPv6's guard metric: one less, which `ip -6 route flush` does not skip as the kernel's null route. */
export const GUARD_METRIC_IPV6 = 0xfffffffe;

export const guardMetric = (family: 4 | 6 | undefined): number => (family === 6 ? GUARD_METRIC_IPV6 : GUARD_METRIC);

/** The metric the kernel gives a route added without one: 0 for IPv4, IP6_RT_PRIO_USER for IPv6. */
export function unsetMetric(family: 4 | 6 | undefined): number {
  return family === 6 ? 1024 : 0;
}
const MAIN_TABLE = 254;
/** unspec, default, main, local: never netgwm's, whatever range it is given. */
const SYSTEM_TABLES = new Set([0, 253, MAIN_TABLE, 255]);
// Keys a probe rule may have; a rule with any other (to, oif, …) is not the wanted one.
const RULE_KEYS = new Set(['priority', 'src', 'table', 'fwmark', 'fwmask']);
const PORT_RULE_KEYS = new Set(['priority', 'src', 'table', 'iif', 'sport_start', 'sport_end']);

/** `fwmark 0x4e470001 lookup 195 pref 1000`: the words after `ip rule add`. */
export function probeRuleWords(path: Pick<ProbePath, 'mark' | 'table'>, pref: number): string {
  return `fwmark ${hex(path.mark)} lookup ${path.table} pref ${pref}`;
}

/** `iif lo sport 61000-61063 lookup 195 pref 1000`: the words after `ip rule add`. */
export function portRuleWords(path: Pick<ProbePath, 'table'> & { ports: PortRange }, pref: number): string {
  return `iif lo sport ${path.ports.from}-${path.ports.to} lookup ${path.table} pref ${pref}`;
}

/** `default via 192.0.2.1 dev eth1 table 195`: the words after `ip route add`. */
export function probeRouteWords(path: ProbePath): string {
  return ['default', ...(path.via ? ['via', path.via] : []), ...(path.dev ? ['dev', path.dev] : []), 'table', String(path.table)].join(' ');
}

export function guardRouteWords(table: number, family?: 4 | 6): string {
  return `unreachable default metric ${guardMetric(family)} table ${table}`;
}

export function planProbePaths(rules: IpRule[], routes: IpRoute[], wanted: ProbePathsWanted): ProbePathsPlan {
  const byTable = new Map(wanted.paths.map((path) => [path.table, path]));
  const lines: ProbePathLine[] = [];
  const devices: Record<string, string> = {};

  // Per table, the wanted rules already in place: `mark` and `ports`, each once.
  const kept = new Set<string>();
  for (const rule of rules.filter((candidate) => ownsRule(candidate, wanted))) {
    const path = byTable.get(Number(rule.table));
    const kind = path && wantedRuleKind(rule, path, wanted.pref);
    if (path && kind && !kept.has(`${path.table} ${kind}`)) kept.add(`${path.table} ${kind}`);
    else lines.push({ line: `rule del ${ruleSelector(rule)}` });
  }

  const tables = new Map<number, IpRoute[]>();
  for (const route of routes) {
    const table = route.table === undefined ? MAIN_TABLE : Number(route.table);
    if (ownsTable(table, wanted)) tables.set(table, [...(tables.get(table) ?? []), route]);
  }
  for (const table of tables.keys()) if (!byTable.has(table)) lines.push({ line: `route flush table ${table}` });

  for (const path of wanted.paths) {
    const present = tables.get(path.table) ?? [];
    const gatewayRoute = present.find((route) => isGatewayRoute(route, path, unsetMetric(wanted.family)));
    const guard = present.find((route) => isGuard(route, wanted.family));
    const extra = present.filter((route) => route !== gatewayRoute && route !== guard);
    const add: string[] = [];
    if (extra.length > 0) {
      // Something else is in the table: start it again from empty.
      lines.push({ line: `route flush table ${path.table}` });
      add.push(`route add ${guardRouteWords(path.table, wanted.family)}`, `route add ${probeRouteWords(path)}`);
    } else {
      if (!guard) add.push(`route add ${guardRouteWords(path.table, wanted.family)}`);
      if (gatewayRoute?.dev) devices[path.gateway] = gatewayRoute.dev;
      else add.push(`route add ${probeRouteWords(path)}`);
    }
    if (!kept.has(`${path.table} mark`)) add.push(`rule add ${probeRuleWords(path, wanted.pref)}`);
    if (path.ports && !kept.has(`${path.table} ports`)) add.push(`rule add ${portRuleWords({ ...path, ports: path.ports }, wanted.pref)}`);
    lines.push(...add.map((line) => ({ line, gateway: path.gateway })));
  }
  // Removals first: a stale rule or route must be gone before its slot is filled again.
  return { lines: [...lines.filter((entry) => !entry.gateway), ...lines.filter((entry) => entry.gateway)], devices };
}

/** A rule netgwm owns: it points into one of its tables, or carries a probe mark at the probe preference. */
function ownsRule(rule: IpRule, wanted: ProbePathsWanted): boolean {
  if (rule.table !== undefined && ownsTable(Number(rule.table), wanted)) return true;
  return rule.priority === wanted.pref && rule.fwmark !== undefined && fullMask(rule) && wanted.ownedMarks.has(Number(rule.fwmark));
}

const ownsTable = (table: number, wanted: ProbePathsWanted) => wanted.ownedTables.has(table) && !SYSTEM_TABLES.has(table);

/** Which of the path's rules this one is (`mark` or `ports`), or undefined when it is neither exactly. */
function wantedRuleKind(rule: IpRule, path: ProbePath, pref: number): 'mark' | 'ports' | undefined {
  if (rule.priority !== pref || (rule.src ?? 'all') !== 'all') return undefined;
  const keys = Object.keys(rule);
  if (keys.every((key) => RULE_KEYS.has(key)) && rule.fwmark !== undefined && Number(rule.fwmark) === path.mark && fullMask(rule))
    return 'mark';
  if (
    keys.every((key) => PORT_RULE_KEYS.has(key)) &&
    rule.iif === 'lo' &&
    path.ports &&
    rule.sport_start === path.ports.from &&
    rule.sport_end === path.ports.to
  )
    return 'ports';
  return undefined;
}

const fullMask = (rule: IpRule) => rule.fwmask === undefined || Number(rule.fwmask) === 0xffffffff;

/** The words that delete exactly this rule: its preference, mark or input device and source ports, and table. */
function ruleSelector(rule: IpRule): string {
  const mark = rule.fwmark === undefined ? '' : ` fwmark ${rule.fwmark}${rule.fwmask === undefined ? '' : `/${rule.fwmask}`}`;
  // Only a name ip(8) reads back as one word (a rule another program made could hold anything).
  const device = typeof rule.iif === 'string' && /^[!-~]{1,15}$/.test(rule.iif) ? ` iif ${rule.iif}` : '';
  const ports =
    rule.sport_start !== undefined
      ? ` sport ${rule.sport_start}-${rule.sport_end}`
      : rule.sport !== undefined
        ? ` sport ${rule.sport}`
        : '';
  return `pref ${rule.priority}${mark}${device}${ports} lookup ${rule.table}`;
}

/**
 * The probe ports the kernel may also give other programs as ephemeral ports: those inside
 * `net.ipv4.ip_local_port_range` (`local`, which IPv6 uses too) and not in
 * `net.ipv4.ip_local_reserved_ports`. A connection of another program on such a port would
 * leave through a probe path.
 */
export function sharedPorts(probe: PortRange[], local: PortRange, reserved: PortRange[]): PortRange[] {
  const shared: PortRange[] = [];
  for (const range of probe) {
    let from = Math.max(range.from, local.from);
    const to = Math.min(range.to, local.to);
    for (let port = from; port <= to + 1; port++) {
      const free = port <= to && !reserved.some((r) => port >= r.from && port <= r.to);
      if (free) continue;
      const last = shared.at(-1);
      if (port > from && last?.to === from - 1) last.to = port - 1;
      else if (port > from) shared.push({ from, to: port - 1 });
      from = port + 1;
    }
  }
  return shared;
}

function isGatewayRoute(route: IpRoute, path: ProbePath, metric: number): boolean {
  return (
    route.type === undefined &&
    route.dst === 'default' &&
    (route.metric ?? 0) === metric &&
    route.gateway === path.via &&
    (path.dev === undefined || route.dev === path.dev)
  );
}

// `ip -N` prints route types as numbers (7: unreachable).
const isGuard = (route: IpRoute, family: 4 | 6 | undefined) =>
  (route.type === '7' || route.type === 'unreachable') && route.dst === 'default' && route.metric === guardMetric(family);
