// Uplink tables: every gateway with a `table` gets, in that table, its default route (via the
// gateway, on its dev) and a copy of its link's connected routes — the main table's `proto kernel`
// routes on that dev, which the kernel made from the dev's addresses (a subnet, or the peer of a
// point-to-point link) — so that traffic marked for the uplink finds its gateway and the uplink's
// neighbours there. Pure: given what `ip -N -j route show table all` printed (the cycle's one
// read), it says which `ip -batch` lines bring the tables to what the config wants.
//
// netgwm's routes carry `proto 194` (`netgwm` in /etc/iproute2/rt_protos.d/netgwm.conf): a route
// of that protocol outside the system tables that no gateway wants any more is removed, and no
// other route ever is. A route of another protocol that already says what is wanted (an admin's
// `ip route add default via … table isp1` from before) is left as it is; one that holds the slot
// with something else (another gateway) is replaced, since the table's default is the uplink's.
//
// IPv6 tables are planned alike from `ip -6` output (`family` 6): there the kernel prints no scope,
// its connected routes include every link's fe80::/64 (so a link-local gateway is a neighbour),
// and a route added without a metric gets 1024.
import { type IpRoute, type ProbePathLine, unsetMetric } from './probe-paths.js';

/** The `proto` of every route netgwm puts into an uplink table (and of its main default route). */
export const NETGWM_ROUTE_PROTO = 194;

/** One gateway's uplink table: where its marked traffic is routed. */
export interface UplinkTable {
  gateway: string;
  table: number;
  /** The gateway's address; absent for a device-only gateway (`default dev ppp0`). */
  via?: string;
  /** The configured dev; absent: the dev of the main table's connected route that covers `via`. */
  dev?: string;
}

const MAIN_TABLE = 254;
const SYSTEM_TABLES = new Set([0, 253, MAIN_TABLE, 255]);
// `ip -N` prints protocols and scopes as numbers; without it as names.
const KERNEL_PROTO = new Set(['2', 'kernel']);
const LINK_SCOPE = new Set(['253', 'link']);

/** The route's table as a number (`ip` leaves it out for main). */
export const tableOf = (route: IpRoute) => (route.table === undefined || route.table === 'main' ? MAIN_TABLE : Number(route.table));
const protocolOf = (route: IpRoute) => (route.protocol === undefined ? undefined : String(route.protocol));
/** A route netgwm made (its protocol, as a number with `ip -N`, or named by rt_protos.d). */
export const isOurs = (route: IpRoute) => protocolOf(route) === String(NETGWM_ROUTE_PROTO) || protocolOf(route) === 'netgwm';
export const isUnicast = (route: IpRoute) => route.type === undefined || route.type === '1' || route.type === 'unicast';

/** The main table's link routes: a dev's neighbours, the kernel's (from addresses) or an admin's (`ip route add 172.31.1.1 dev eth0`). */
export function linkRoutes(routes: IpRoute[]): IpRoute[] {
  return routes.filter(
    (route) =>
      tableOf(route) === MAIN_TABLE &&
      isUnicast(route) &&
      route.dst !== 'default' &&
      route.gateway === undefined &&
      // IPv6 routes have no scope; one without a gateway is on the link.
      (LINK_SCOPE.has(String(route.scope ?? '')) || (route.scope === undefined && route.dst.includes(':'))),
  );
}

/** The main table's link routes the kernel made from addresses: a dev's subnets and point-to-point peers. */
export function connectedRoutes(routes: IpRoute[]): IpRoute[] {
  return linkRoutes(routes).filter((route) => KERNEL_PROTO.has(protocolOf(route) ?? ''));
}

/** The dev of the connected route whose prefix holds `address` (the longest), if any. */
export function deviceFor(address: string, connected: IpRoute[]): string | undefined {
  const holding = connected.filter((route) => covers(route.dst, address));
  return holding.sort((a, b) => parsePrefix(b.dst)[1] - parsePrefix(a.dst)[1])[0]?.dev;
}

/**
 * The `ip` words of every route `uplink`'s table should hold, after `route replace`: its default
 * route and copies of its dev's `connected` routes; `links` (every link route of main) tell
 * whether its gateway is a neighbour at all.
 */
export function wantedUplinkRoutes(
  uplink: UplinkTable,
  connected: IpRoute[],
  links: IpRoute[] = connected,
): Array<{ route: IpRoute; words: string }> {
  const dev = uplink.dev ?? (uplink.via === undefined ? undefined : deviceFor(uplink.via, links));
  if (dev === undefined) return []; // its link is gone (or it has no address on any link): nothing the kernel would take
  const proto = `proto ${NETGWM_ROUTE_PROTO}`;
  const table = `table ${uplink.table}`;
  const copies = connected
    .filter((route) => route.dev === dev)
    .map((route) => ({
      route: { dst: route.dst, dev, prefsrc: route.prefsrc },
      words: [route.dst, 'dev', dev, proto, 'scope link', ...(route.prefsrc ? ['src', String(route.prefsrc)] : []), table].join(' '),
    }));
  // A gateway that is no neighbour on its dev has no route the kernel would accept.
  const neighbour = uplink.via === undefined || links.some((route) => route.dev === dev && covers(route.dst, uplink.via!));
  if (!neighbour) return copies;
  const gateway = {
    route: { dst: 'default', gateway: uplink.via, dev },
    words: ['default', ...(uplink.via ? ['via', uplink.via] : []), 'dev', dev, proto, table].join(' '),
  };
  return [gateway, ...copies];
}

/**
 * The lines (for `ip -4 -force -batch -`) that fill every uplink table and remove the routes of
 * netgwm's protocol no gateway wants: removals first, then each gateway's missing routes.
 */
export function planUplinkTables(routes: IpRoute[], uplinks: UplinkTable[], family?: 6): ProbePathLine[] {
  const links = linkRoutes(routes);
  const connected = connectedRoutes(routes);
  const removals: ProbePathLine[] = [];
  const additions: ProbePathLine[] = [];
  const kept = new Set<IpRoute>();
  for (const uplink of uplinks) {
    const present = routes.filter((route) => tableOf(route) === uplink.table);
    for (const { route, words } of wantedUplinkRoutes(uplink, connected, links)) {
      const found = present.find((candidate) => sameRoute(candidate, route, unsetMetric(family)));
      if (found) kept.add(found);
      else additions.push({ line: `route replace ${words}`, gateway: uplink.gateway });
    }
  }
  for (const route of routes) {
    if (!isOurs(route) || kept.has(route) || SYSTEM_TABLES.has(tableOf(route))) continue;
    removals.push({ line: `route del ${routeSelector(route)}` });
  }
  return [...removals, ...additions];
}

function sameRoute(present: IpRoute, wanted: IpRoute, metric: number): boolean {
  return (
    isUnicast(present) &&
    present.dst === wanted.dst &&
    (present.metric ?? 0) === metric &&
    present.gateway === wanted.gateway &&
    present.dev === wanted.dev &&
    (wanted.prefsrc === undefined || present.prefsrc === wanted.prefsrc)
  );
}

/** The words that delete exactly this route of netgwm's, never another protocol's route in the same slot. */
function routeSelector(route: IpRoute): string {
  return [
    ...(isUnicast(route) ? [] : [route.type]),
    route.dst,
    ...(route.gateway ? ['via', route.gateway] : []),
    ...(route.dev ? ['dev', route.dev] : []),
    'proto',
    String(NETGWM_ROUTE_PROTO),
    ...(route.metric ? ['metric', String(route.metric)] : []),
    'table',
    String(tableOf(route)),
  ].join(' ');
}

// ---- IPv4 and IPv6 prefixes ----

function toNumber(address: string): bigint | undefined {
  return address.includes(':') ? ipv6ToNumber(address) : ipv4ToNumber(address);
}

function ipv4ToNumber(address: string): bigint | undefined {
  const parts = address.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) return undefined;
    value = value * 256n + BigInt(part);
  }
  return value;
}

/** `2001:db8::1` → its 128 bits; undefined for anything else (a zone `%eth0`, an embedded IPv4 address). */
function ipv6ToNumber(address: string): bigint | undefined {
  const halves = address.split('::');
  if (halves.length > 2) return undefined;
  const [head = [], tail = []] = halves.map((half) => (half === '' ? [] : half.split(':')));
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  let value = 0n;
  for (const group of [...head, ...Array<string>(halves.length === 1 ? 0 : missing).fill('0'), ...tail]) {
    if (!/^[0-9a-f]{1,4}$/i.test(group)) return undefined;
    value = (value << 16n) + BigInt(`0x${group}`);
  }
  return value;
}

/** `192.0.2.0/30` → [network, 30, 32]; a host (`198.51.100.1`) is a /32, an IPv6 host a /128. */
function parsePrefix(dst: string): [bigint | undefined, number, number] {
  const bits = dst.includes(':') ? 128 : 32;
  const [address = '', length = String(bits)] = dst.split('/');
  return [toNumber(address), Number(length), bits];
}

/** Whether the prefix `dst` holds `address` (of the same family). */
export function covers(dst: string, address: string): boolean {
  const [network, length, bits] = parsePrefix(dst);
  const value = toNumber(address);
  if (network === undefined || value === undefined || address.includes(':') !== bits > 32) return false;
  if (!Number.isInteger(length) || length < 0 || length > bits) return false;
  const hostBits = BigInt(bits - length);
  return value >> hostBits === network >> hostBits;
}
