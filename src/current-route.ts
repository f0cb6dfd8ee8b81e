// The cycle's step "read the current route": which configured gateway the main table's default
// route goes through — and whether the kernel really uses that route. A default route netgwm did
// not set can win over netgwm's: one with a lower metric (`ip route add blackhole default metric
// 5` beside a route at metric 10), or one listed first at the same metric. netgwm then makes its
// own route the one used again, every cycle, and logs the problem once (state.foreignDefault)
// and once more when that route is gone: routing by a route netgwm did not choose, silently,
// is what must not happen; deleting someone's route is avoided where a lower metric does.
import type { Gateway, State } from './core/types.js';
import type { Logger } from './log/logger.js';
import type { Exec } from './system/exec.js';
import {
  describeDefaultRoute,
  matchGateway,
  ownDefaultRoute,
  ownDefaultMetric,
  putDefaultRouteFirst,
  readDefaultRoutes,
  replaceDefaultRoute,
  type DefaultRoute,
} from './system/routes.js';

export async function readCurrentRoute(
  exec: Exec,
  log: Logger,
  state: State,
  gateways: Gateway[],
  /** The main table's default routes, when the cycle has read them already (one `ip` read for all). */
  known?: DefaultRoute[],
): Promise<{ route?: DefaultRoute; current?: Gateway }> {
  const routes = known ?? (await readDefaultRoutes(exec));
  const { route, winner } = ownDefaultRoute(routes, gateways);
  const current = matchGateway(route, gateways);
  if (!winner) {
    const gone = state.foreignDefault !== undefined && !routes.some((entry) => describeDefaultRoute(entry) === state.foreignDefault);
    if (gone) {
      log.event({ kind: 'foreign-default-gone', route: state.foreignDefault! });
      delete state.foreignDefault;
    }
    return { route, current };
  }
  const described = describeDefaultRoute(winner);
  if (state.foreignDefault !== described)
    log.event({ kind: 'foreign-default', route: described, ours: current?.name, action: actionOn(winner, current) });
  state.foreignDefault = described;
  if (!current) return { route, current }; // the decision moves the route to a gateway (at metric 0)
  try {
    return { route: await putDefaultRouteFirst(exec, current, winner), current };
  } catch (error) {
    log.event({ kind: 'default-restore-failed', route: described, gateway: current.name, error: (error as Error).message });
    return { route, current };
  }
}

function actionOn(winner: DefaultRoute, current: Gateway | undefined): string {
  if (!current) return 'netgwm moves the default route to the best gateway that is up, at metric 0';
  return winner.metric === 0
    ? `netgwm deletes it and puts ${current.name}'s route back`
    : `netgwm puts ${current.name}'s route back in front, at metric 0`;
}

/**
 * The current gateway is `auto` and the kernel now has another address for it (a new DHCP lease
 * or PPP session), or only the DHCP client's own route (at its metric) is left — a client script
 * that flushes every default route on its interface at a renewal took netgwm's: netgwm's route
 * (metric 0) goes back, to the new address. Not a switch (same gateway: no hooks, no conntrack
 * flush), one log line. Returns the route as it is now.
 */
export async function followAddress(
  exec: Exec,
  log: Logger,
  current: Gateway | undefined,
  route: DefaultRoute | undefined,
): Promise<DefaultRoute | undefined> {
  if (!current?.auto || current.ip === undefined || route === undefined) return route;
  if (route.gateway === current.ip && route.metric === ownDefaultMetric(current.family)) return route;
  const wanted = describeDefaultRoute({ type: 'unicast', gateway: current.ip, dev: current.dev, metric: ownDefaultMetric(current.family) });
  try {
    const now = await replaceDefaultRoute(exec, current);
    log.event({ kind: 'default-followed', gateway: current.name, route: wanted, was: describeDefaultRoute(route) });
    return now;
  } catch (error) {
    log.event({ kind: 'default-follow-failed', gateway: current.name, route: wanted, error: (error as Error).message });
    return route;
  }
}

/**
 * `ip6: auto` takes the router advertisement's default route on its dev; a router forwards
 * IPv6, and a forwarding interface accepts router advertisements only with accept_ra=2.
 */
const raHint = (dev: string) =>
  `no router advertisement's default route on ${dev}: a router (forwarding on) accepts them only with sysctl net.ipv6.conf.${dev}.accept_ra=2`;

/** Logs each `auto` gateway whose address differs from the last cycle's, and remembers them all. */
export function noteAddresses(gateways: Gateway[], state: State, log: Logger): void {
  const addresses: Record<string, string> = {};
  for (const gateway of gateways) {
    if (!gateway.auto) continue;
    // An IPv6 gateway without a router advertisement is reported once (remembered as ''):
    // the hint names the sysctl it lacks.
    const remembered = state.addresses?.[gateway.name];
    const unreported = gateway.family === 6 && gateway.ip === undefined ? '' : undefined;
    const known = gateway.ip ?? unreported;
    if (known !== undefined) addresses[gateway.name] = known;
    if (remembered === known) continue;
    const was = remembered || undefined;
    const event = { kind: 'gateway-address' as const, gateway: gateway.name, dev: gateway.dev!, address: gateway.ip, was };
    log.event(
      gateway.family === 6 ? { ...event, setting: 'ip6: auto', ...(gateway.ip === undefined && { hint: raHint(gateway.dev!) }) } : event,
    );
  }
  if (Object.keys(addresses).length > 0) state.addresses = addresses;
  else delete state.addresses;
}
