// The default route, the check table and the probe rule, read and written with `ip`.
import type { Gateway, GatewayInfo } from '../core/types.js';
import { NETGWM_ROUTE_PROTO } from '../core/uplink-tables.js';
import { CommandError } from '../errors.js';
import type { Exec } from './exec.js';

export interface DefaultRoute {
  /** `unicast`, or a route that sends nowhere: `blackhole`, `unreachable`, `prohibit`, `throw`. */
  type: string;
  gateway?: string;
  /** Absent for the types that send nowhere (and for a multipath route). */
  dev?: string;
  metric: number;
}

/**
 * Parses `ip -j route show default`: every default route, of any type (a blackhole with a lower
 * metric wins in the kernel like any other), kernel's pick first: lowest metric, then as listed.
 */
export function parseDefaultRoutes(json: string): DefaultRoute[] {
  return defaultRoutesOf(JSON.parse(json || '[]') as RouteJson[]);
}

interface RouteJson {
  dst?: string;
  gateway?: string;
  dev?: string;
  metric?: number;
  type?: string;
  table?: string;
}

// `ip -N` prints route types as their numbers (rtnetlink.h).
const ROUTE_TYPE_NAMES: Record<string, string> = { '1': 'unicast', '6': 'blackhole', '7': 'unreachable', '8': 'prohibit', '9': 'throw' };

/**
 * The main table's default routes among routes listed by `ip -j route show table main default`
 * or `ip -N -j route show table all` (see readRouting in ./probe-paths.ts), kernel's pick first.
 */
export function defaultRoutesOf(entries: RouteJson[]): DefaultRoute[] {
  return entries
    .filter((entry) => entry.dst === 'default' && (entry.table === undefined || entry.table === 'main' || entry.table === '254'))
    .map((entry) => ({
      type: entry.type === undefined ? 'unicast' : (ROUTE_TYPE_NAMES[entry.type] ?? entry.type),
      gateway: entry.gateway,
      dev: entry.dev,
      metric: entry.metric ?? 0,
    }))
    .sort((a, b) => a.metric - b.metric);
}

/**
 * The configured gateway the default route goes through, if any. A default route on an `auto`
 * gateway's dev is that gateway's whatever its next hop (the kernel's may have moved on: the
 * cycle then makes the route follow).
 */
export function matchGateway(route: DefaultRoute | undefined, gateways: Gateway[]): Gateway | undefined {
  if (route?.type !== 'unicast' || route.dev === undefined) return undefined;
  return gateways.find((gateway) =>
    gateway.ip !== undefined && !gateway.auto
      ? gateway.ip === route.gateway && (gateway.dev === undefined || gateway.dev === route.dev)
      : gateway.dev === route.dev,
  );
}

/**
 * The default route netgwm goes by — the first one to a configured gateway, else the kernel's
 * pick — and `winner`, the route the kernel uses instead of it: a foreign route ahead of netgwm's,
 * or, first in line, one that sends nowhere (a blackhole). A foreign unicast route alone is no
 * winner: there is simply no current gateway yet.
 */
export function ownDefaultRoute(routes: DefaultRoute[], gateways: Gateway[]): { route?: DefaultRoute; winner?: DefaultRoute } {
  const [used] = routes;
  const ours = routes.find((route) => matchGateway(route, gateways));
  if (!used || used === ours) return { route: used };
  return { route: ours ?? used, winner: ours || used.type !== 'unicast' ? used : undefined };
}

/** `blackhole default metric 5`, `default via 192.0.2.1 dev eth1 metric 10`: a route as ip writes it. */
export function describeDefaultRoute(route: DefaultRoute): string {
  return defaultRouteWords(route).join(' ');
}

/** The words that select exactly this route in `ip route del`. */
function defaultRouteWords(route: DefaultRoute): string[] {
  return [
    ...(route.type === 'unicast' ? [] : [route.type]),
    'default',
    ...(route.gateway ? ['via', route.gateway] : []),
    ...(route.dev ? ['dev', route.dev] : []),
    'metric',
    String(route.metric),
  ];
}

/** A gateway as hooks and log lines name it: the dev the kernel uses when the config names none. */
export function gatewayInfo(gateway: Gateway, route: DefaultRoute | undefined): GatewayInfo {
  return { name: gateway.name, ip: gateway.ip ?? route?.gateway, dev: gateway.dev ?? route?.dev };
}

/**
 * The metric of netgwm's IPv6 default route in the main table: ahead of the defaults from router
 * advertisements (1024), which stay as a fallback. Its IPv4 route has metric 0, as NetGWM's had.
 */
export const IPV6_DEFAULT_METRIC = 512;

/** The metric of netgwm's main default route of `family`. */
export const ownDefaultMetric = (family: 4 | 6 = 4): number => (family === 6 ? IPV6_DEFAULT_METRIC : 0);

export async function readDefaultRoutes(exec: Exec): Promise<DefaultRoute[]> {
  const { stdout } = await exec('ip', ['-j', '-4', 'route', 'show', 'table', 'main', 'default']);
  return parseDefaultRoutes(stdout);
}

/**
 * `ip route replace default via IP [dev DEV] proto 194` in the main table (or `table`), as argv:
 * netgwm's protocol tells its route from a DHCP client's (see src/core/dynamic-gateways.ts).
 */
export function defaultRouteArgs(gateway: Pick<Gateway, 'ip' | 'dev'>, table?: number, verb: 'replace' | 'add' = 'replace'): string[] {
  return [
    'route',
    verb,
    'default',
    ...(gateway.ip ? ['via', gateway.ip] : []),
    ...(gateway.dev ? ['dev', gateway.dev] : []),
    'proto',
    String(NETGWM_ROUTE_PROTO),
    ...(table === undefined ? [] : ['table', String(table)]),
  ];
}

/** Replaces the main default route, checks the kernel now uses it, and returns it as the kernel has it. */
export async function replaceDefaultRoute(exec: Exec, gateway: Gateway): Promise<DefaultRoute> {
  const argv = defaultRouteArgs(gateway);
  await exec('ip', ['-4', ...argv]);
  const now = (await readDefaultRoutes(exec))[0];
  if (!matchGateway(now, [gateway]))
    throw new CommandError(
      ['ip', ...argv],
      0,
      `the command succeeded but the kernel still uses another default route${now ? `: ${describeDefaultRoute(now)}` : ''}`,
    );
  return now!;
}

/**
 * Puts `gateway`'s default route back in front of `winner`: a replace writes metric 0, ahead of
 * every higher metric; a winner at metric 0 itself is listed before netgwm's route in the same
 * slot, so it is deleted first (metric 0 in the main table is the slot netgwm owns, as NetGWM did).
 */
export async function putDefaultRouteFirst(exec: Exec, gateway: Gateway, winner: DefaultRoute): Promise<DefaultRoute> {
  if (winner.metric === 0) await exec('ip', ['-4', 'route', 'del', ...defaultRouteWords(winner)]);
  return replaceDefaultRoute(exec, gateway);
}
