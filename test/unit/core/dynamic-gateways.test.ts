import { describe, expect, it } from 'vitest';
import { resolveAddress, resolveGateways } from '../../../src/core/dynamic-gateways.js';
import type { IpRoute } from '../../../src/core/probe-paths.js';
import type { Gateway } from '../../../src/core/types.js';
import ROUTES from './fixtures/uplink-routes.json' with { type: 'json' };

// The fixture (see uplink-tables.test.ts): wan1 192.0.2.2/30 with netgwm's main default via
// 192.0.2.1 and table 101; ppp9 198.51.100.2 peer 198.51.100.1 with a DHCP client's default via
// 198.51.100.1 at metric 100 and netgwm's table 102.
const routes = ROUTES as IpRoute[];
const OWN_TABLES = new Set([101, 102, 195, 196]);
const WAN: Gateway = {
  name: 'dhcp',
  dev: 'wan1',
  auto: true,
  priority: 1,
  table_id: 101,
  probe: { mark: 0x4e470001, table: 195, ports: { from: 61000, to: 61063 } },
};
const PPP: Gateway = {
  name: 'lte',
  dev: 'ppp9',
  auto: true,
  priority: 2,
  table_id: 102,
  probe: { mark: 0x4e470002, table: 196, ports: { from: 61064, to: 61127 } },
};
const resolve = (gateway: Gateway, present: IpRoute[]) => resolveAddress(gateway, present, OWN_TABLES);
const dhcp = (gateway: string, extra: Partial<IpRoute> = {}): IpRoute => ({
  dst: 'default',
  gateway,
  dev: 'wan1',
  metric: 100,
  flags: [],
  ...extra,
});

describe('resolveAddress', () => {
  it("the DHCP client's default route on the dev wins over netgwm's own route via an older address", () => {
    expect(resolve(WAN, [...routes, dhcp('192.0.2.3')])).toBe('192.0.2.3');
    // main before another table, then the lowest metric
    expect(resolve(WAN, [...routes, dhcp('192.0.2.3', { table: '300', metric: 5 }), dhcp('192.0.2.1', { metric: 700 })])).toBe('192.0.2.1');
    expect(resolve(WAN, [...routes, dhcp('192.0.2.3', { table: '300' })])).toBe('192.0.2.3');
  });

  it("never from netgwm's tables, nor from a route of netgwm's protocol", () => {
    const probe = { dst: 'default', gateway: '192.0.2.3', dev: 'wan1', table: '195', flags: [] };
    expect(resolve(WAN, routes.filter((route) => route.table !== '101').concat(probe))).toBe('192.0.2.3'); // only as a last resort
    expect(resolve(WAN, [...routes, dhcp('192.0.2.3', { protocol: '194', metric: 0 })])).toBe('192.0.2.1');
  });

  it('a point-to-point link gives its peer when no client route names a gateway (pppd: `default dev ppp0`)', () => {
    const withoutDhcp = routes.filter((route) => !(route.table === undefined && route.dev === 'ppp9' && route.dst === 'default'));
    const pppd = { dst: 'default', dev: 'ppp9', scope: '253', flags: [] };
    expect(resolve(PPP, [...withoutDhcp, pppd])).toBe('198.51.100.1');
  });

  it('with nothing else, the address netgwm used last (its uplink table first); with nothing at all, none', () => {
    expect(
      resolve(
        WAN,
        routes.filter((route) => !(route.table === undefined && route.dst === 'default')),
      ),
    ).toBe('192.0.2.1');
    expect(
      resolve(
        WAN,
        routes.filter((route) => route.dev !== 'wan1'),
      ),
    ).toBeUndefined();
  });
});

describe('resolveGateways', () => {
  it('fills in the address of auto gateways only, and drops one the kernel no longer has', () => {
    const fixed: Gateway = {
      name: 'isp',
      ip: '203.0.113.1',
      priority: 3,
      probe: { mark: 0x4e470003, table: 197, ports: { from: 61128, to: 61191 } },
    };
    const stale = { ...WAN, ip: '192.0.2.3' };
    const none = routes.filter((route) => route.dev !== 'wan1');
    expect(resolveGateways([stale, PPP, fixed], none, OWN_TABLES)).toEqual([WAN, { ...PPP, ip: '198.51.100.1' }, fixed]);
  });
});
