// Dynamic gateways (`ip: auto`, or a `dev` without `ip`): the next hop is whatever the kernel has
// for the gateway's dev, read afresh from the cycle's one routing read, so that a new DHCP lease
// or PPP session moves the probe path, the uplink table and — when the gateway is active — the
// main default route with it. Pure.
//
// Where the address comes from, first found wins:
// 1. a default route via an address on that dev that netgwm did not make: what the DHCP client
//    (dhclient, udhcpc, systemd-networkd, NetworkManager) or pppd installed — in the main table
//    first, then in any other table that is not netgwm's (a client told to use its own table),
//    lowest metric first;
// 2. the peer of a point-to-point link on that dev (PPP, a tunnel, `ip addr add … peer …`): the
//    main table's kernel route to a single address;
// 3. the address netgwm itself used last (its own routes keep it): a DHCP client whose route went
//    (replaced by netgwm's at the same metric, see the README) does not make the gateway vanish;
// 4. none: the routes go `dev DEV` only, as NetGWM's device gateways did (right for PPP).
import type { IpRoute } from './probe-paths.js';
import type { Gateway } from './types.js';
import { connectedRoutes, isOurs, isUnicast, tableOf } from './uplink-tables.js';

const MAIN_TABLE = 254;
const LOCAL_TABLE = 255;

/**
 * The address of `gateway`'s next hop as the kernel has it, or undefined (a device route). `ownTables`
 * are netgwm's: the probe tables and the uplink tables, whose routes netgwm made itself.
 */
export function resolveAddress(
  gateway: Pick<Gateway, 'dev' | 'table_id' | 'probe'>,
  routes: IpRoute[],
  ownTables: ReadonlySet<number>,
): string | undefined {
  const defaults = routes.filter(
    (route) => route.dst === 'default' && isUnicast(route) && route.dev === gateway.dev && route.gateway !== undefined,
  );
  const theirs = defaults
    .filter((route) => !isOurs(route) && !ownTables.has(tableOf(route)) && tableOf(route) !== LOCAL_TABLE)
    .sort((a, b) => Number(tableOf(b) === MAIN_TABLE) - Number(tableOf(a) === MAIN_TABLE) || (a.metric ?? 0) - (b.metric ?? 0));
  if (theirs[0]) return theirs[0].gateway;
  const peer = connectedRoutes(routes).find((route) => route.dev === gateway.dev && isHost(route.dst));
  if (peer) return peer.dst.split('/')[0];
  // netgwm's own, most specific to this gateway first: its uplink table, its probe table, main.
  const order = [gateway.table_id, gateway.probe.table, MAIN_TABLE];
  const ours = defaults
    .filter((route) => order.includes(tableOf(route)) && (isOurs(route) || tableOf(route) === gateway.probe.table))
    .sort((a, b) => order.indexOf(tableOf(a)) - order.indexOf(tableOf(b)));
  return ours[0]?.gateway;
}

/** The gateways with every `auto` one's `ip` as the kernel has it now (absent when it has none). */
export function resolveGateways(gateways: Gateway[], routes: IpRoute[], ownTables: ReadonlySet<number>): Gateway[] {
  return gateways.map((gateway) => {
    if (!gateway.auto) return gateway;
    const { ip: _previous, ...rest } = gateway;
    const ip = resolveAddress(gateway, routes, ownTables);
    return ip === undefined ? rest : { ...rest, ip };
  });
}

const isHost = (dst: string) => !dst.includes('/') || dst.endsWith('/32') || dst.endsWith('/128');
