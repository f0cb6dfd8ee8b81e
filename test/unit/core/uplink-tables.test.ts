import { describe, expect, it } from 'vitest';
import type { IpRoute } from '../../../src/core/probe-paths.js';
import { connectedRoutes, deviceFor, planUplinkTables, type UplinkTable } from '../../../src/core/uplink-tables.js';
import ROUTES from './fixtures/uplink-routes.json' with { type: 'json' };

// `ip -N -j -4 route show table all` on a namespace router: wan1 192.0.2.2/30 (gateway .1), table
// 101 filled by netgwm plus an admin's 203.0.113.0/24 there; ppp9 198.51.100.2 peer 198.51.100.1
// (a point-to-point link), whose table 102 holds only its default; in main, netgwm's default via
// wan1 and a DHCP client's via ppp9 at metric 100.
const routes = ROUTES as IpRoute[];
const ISP1: UplinkTable = { gateway: 'isp1', table: 101, via: '192.0.2.1', dev: 'wan1' };
const PPP: UplinkTable = { gateway: 'lte', table: 102, via: '198.51.100.1', dev: 'ppp9' };
const lines = (present: IpRoute[], uplinks: UplinkTable[]) => planUplinkTables(present, uplinks).map((entry) => entry.line);
const withoutTable = (table: string) => routes.filter((route) => route.table !== table);

describe('planUplinkTables', () => {
  it('a table in place needs nothing; a missing connected route (a point-to-point peer) is added', () => {
    expect(planUplinkTables(routes, [ISP1, PPP])).toEqual([
      { gateway: 'lte', line: 'route replace 198.51.100.1 dev ppp9 proto 194 scope link src 198.51.100.2 table 102' },
    ]);
  });

  it('a flushed table is filled again (default first, then the connected subnet); the admin route there is not ours', () => {
    expect(lines(withoutTable('101'), [ISP1])).toEqual([
      'route del default via 198.51.100.1 dev ppp9 proto 194 table 102',
      'route replace default via 192.0.2.1 dev wan1 proto 194 table 101',
      'route replace 192.0.2.0/30 dev wan1 proto 194 scope link src 192.0.2.2 table 101',
    ]);
  });

  it('a gateway removed from the config: only the routes of netgwm protocol go, not the admin route, not main', () => {
    expect(lines(routes, [PPP])).toEqual([
      'route del default via 192.0.2.1 dev wan1 proto 194 table 101',
      'route del 192.0.2.0/30 dev wan1 proto 194 table 101',
      'route replace 198.51.100.1 dev ppp9 proto 194 scope link src 198.51.100.2 table 102',
    ]);
    // `netgwm cleanup`: every route of netgwm's outside the system tables.
    expect(lines(routes, [])).toEqual([
      'route del default via 192.0.2.1 dev wan1 proto 194 table 101',
      'route del 192.0.2.0/30 dev wan1 proto 194 table 101',
      'route del default via 198.51.100.1 dev ppp9 proto 194 table 102',
    ]);
  });

  it('a gateway whose address changed: its old route goes, the new one takes the slot', () => {
    const moved = { ...ISP1, via: '192.0.2.3' } as UplinkTable;
    expect(lines(routes, [moved, PPP])).toEqual([
      'route del default via 192.0.2.1 dev wan1 proto 194 table 101',
      'route replace default via 192.0.2.3 dev wan1 proto 194 table 101',
      'route replace 198.51.100.1 dev ppp9 proto 194 scope link src 198.51.100.2 table 102',
    ]);
  });

  it("an admin's own route that says the same is left as it is (and never removed); one that says otherwise is replaced", () => {
    const admin = withoutTable('101').concat([
      { dst: 'default', gateway: '192.0.2.1', dev: 'wan1', table: '101', flags: [] },
      { dst: '192.0.2.0/30', dev: 'wan1', table: '101', protocol: '4', scope: '253', prefsrc: '192.0.2.2', flags: [] },
    ]);
    expect(lines(admin, [ISP1])).toEqual(['route del default via 198.51.100.1 dev ppp9 proto 194 table 102']);
    const other = withoutTable('101').concat([{ dst: 'default', gateway: '192.0.2.9', dev: 'wan1', table: '101', flags: [] }]);
    expect(lines(other, [ISP1])).toContain('route replace default via 192.0.2.1 dev wan1 proto 194 table 101');
    expect(lines(other, [ISP1]).some((line) => line.includes('192.0.2.9'))).toBe(false);
  });

  it('a gateway given by ip only takes the dev of the connected route that holds its address', () => {
    expect(lines(withoutTable('101'), [{ ...ISP1, dev: undefined }, PPP])).toEqual([
      'route replace default via 192.0.2.1 dev wan1 proto 194 table 101',
      'route replace 192.0.2.0/30 dev wan1 proto 194 scope link src 192.0.2.2 table 101',
      'route replace 198.51.100.1 dev ppp9 proto 194 scope link src 198.51.100.2 table 102',
    ]);
  });

  it('a device-only gateway gets `default dev D`; a link with no address (gone) gets nothing', () => {
    expect(lines(withoutTable('102'), [ISP1, { gateway: 'lte', table: 102, dev: 'ppp9' }])).toEqual([
      'route replace default dev ppp9 proto 194 table 102',
      'route replace 198.51.100.1 dev ppp9 proto 194 scope link src 198.51.100.2 table 102',
    ]);
    const linkGone = withoutTable('101').filter((route) => route.dev !== 'wan1');
    expect(lines(linkGone, [ISP1])).toEqual(['route del default via 198.51.100.1 dev ppp9 proto 194 table 102']);
  });

  it("a gateway that is a neighbour by an admin's link route (`ip route add 172.31.1.1 dev eth0`) gets its default route", () => {
    const hostRoute = { dst: '203.0.113.7', dev: 'wan1', scope: '253', flags: [] };
    expect(lines([...withoutTable('101'), hostRoute], [{ ...ISP1, via: '203.0.113.7' }, PPP]).slice(0, 2)).toEqual([
      'route replace default via 203.0.113.7 dev wan1 proto 194 table 101',
      'route replace 192.0.2.0/30 dev wan1 proto 194 scope link src 192.0.2.2 table 101',
    ]);
  });

  it('a gateway outside every subnet of its dev: no default route the kernel would refuse, only the subnet', () => {
    expect(lines(withoutTable('101'), [{ ...ISP1, via: '203.0.113.7' }])).toContain(
      'route replace 192.0.2.0/30 dev wan1 proto 194 scope link src 192.0.2.2 table 101',
    );
    expect(lines(withoutTable('101'), [{ ...ISP1, via: '203.0.113.7' }]).join('\n')).not.toContain('203.0.113.7');
  });
});

describe('connected routes', () => {
  it("are main's kernel link routes: subnets and point-to-point peers", () => {
    expect(connectedRoutes(routes).map((route) => `${route.dst} ${route.dev}`)).toEqual(['192.0.2.0/30 wan1', '198.51.100.1 ppp9']);
    expect(deviceFor('192.0.2.1', connectedRoutes(routes))).toBe('wan1');
    expect(deviceFor('198.51.100.1', connectedRoutes(routes))).toBe('ppp9');
    expect(deviceFor('198.51.100.3', connectedRoutes(routes))).toBeUndefined();
  });
});
