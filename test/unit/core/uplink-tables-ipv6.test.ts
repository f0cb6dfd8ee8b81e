import { describe, expect, it } from 'vitest';
import type { IpRoute } from '../../../src/core/probe-paths.js';
import { connectedRoutes, covers, deviceFor, planUplinkTables, type UplinkTable } from '../../../src/core/uplink-tables.js';

// `ip -N -j -6 route show table all` on a dual-stack namespace router (abridged): the kernel's
// connected routes (metric 256, no scope), netgwm's table 300 for isp2, an RA default in main.
const MAIN: IpRoute[] = [
  { dst: '2001:db8:0:1::/64', dev: 'wan_1', protocol: '2', metric: 256, flags: [], pref: 'medium' },
  { dst: '2001:db8:0:2::/64', dev: 'wan-2', protocol: '2', metric: 256, flags: [], pref: 'medium' },
  { dst: 'fe80::/64', dev: 'wan_1', protocol: '2', metric: 256, flags: [], pref: 'medium' },
  { dst: 'fe80::/64', dev: 'wan-2', protocol: '2', metric: 256, flags: [], pref: 'medium' },
  { dst: 'default', gateway: 'fe80::1', dev: 'wan-2', protocol: '9', metric: 1024, flags: [], pref: 'medium' },
  { type: '2', dst: '2001:db8:0:2::2', dev: 'wan-2', table: '255', protocol: '2', metric: 0, flags: [], pref: 'medium' },
  { type: '5', dst: 'ff00::/8', dev: 'wan-2', table: '255', protocol: '2', metric: 256, flags: [], pref: 'medium' },
];
const TABLE300: IpRoute[] = [
  { dst: '2001:db8:0:2::/64', dev: 'wan-2', table: '300', protocol: '194', metric: 1024, flags: [], pref: 'medium' },
  { dst: 'default', gateway: '2001:db8:0:2::1', dev: 'wan-2', table: '300', protocol: '194', metric: 1024, flags: [], pref: 'medium' },
  { dst: 'fe80::/64', dev: 'wan-2', table: '300', protocol: '194', metric: 1024, flags: [], pref: 'medium' },
];
const ISP2: UplinkTable = { gateway: 'isp2', table: 300, via: '2001:db8:0:2::1' };
const LINK_LOCAL: UplinkTable = { gateway: 'isp1', table: 301, via: 'fe80::1', dev: 'wan_1' };
const lines = (routes: IpRoute[], uplinks: UplinkTable[]) => planUplinkTables(routes, uplinks, 6).map((entry) => entry.line);

describe('planUplinkTables for IPv6 (family 6)', () => {
  it('a table in place (routes at the kernel-given metric 1024) needs nothing; the dev is found from the prefix', () => {
    expect(deviceFor('2001:db8:0:2::1', connectedRoutes(MAIN))).toBe('wan-2');
    expect(lines([...MAIN, ...TABLE300], [ISP2])).toEqual([]);
  });

  it('a flushed table is filled again: default, then the link subnets including fe80::/64', () => {
    expect(lines(MAIN, [ISP2, LINK_LOCAL])).toEqual([
      'route replace default via 2001:db8:0:2::1 dev wan-2 proto 194 table 300',
      'route replace 2001:db8:0:2::/64 dev wan-2 proto 194 scope link table 300',
      'route replace fe80::/64 dev wan-2 proto 194 scope link table 300',
      'route replace default via fe80::1 dev wan_1 proto 194 table 301',
      'route replace 2001:db8:0:1::/64 dev wan_1 proto 194 scope link table 301',
      'route replace fe80::/64 dev wan_1 proto 194 scope link table 301',
    ]);
  });

  it('cleanup removes netgwm routes with their metric, never the RA default nor the connected routes', () => {
    expect(lines([...MAIN, ...TABLE300], [])).toEqual([
      'route del 2001:db8:0:2::/64 dev wan-2 proto 194 metric 1024 table 300',
      'route del default via 2001:db8:0:2::1 dev wan-2 proto 194 metric 1024 table 300',
      'route del fe80::/64 dev wan-2 proto 194 metric 1024 table 300',
    ]);
  });
});

describe('covers', () => {
  it.each([
    ['2001:db8:0:2::/64', '2001:db8:0:2::1', true],
    ['2001:db8:0:2::/64', '2001:db8:0:3::1', false],
    ['2001:db8::/32', '2001:0db8:ffff:0:0:0:0:1', true],
    ['fe80::/64', 'fe80::1', true],
    ['::/0', '2001:db8::1', true],
    ['2001:db8:ff::1', '2001:db8:ff::1', true],
    ['2001:db8:ff::1', '2001:db8:ff::2', false],
    ['2001:db8::/64', '192.0.2.1', false],
    ['192.0.2.0/30', '2001:db8::1', false],
    ['192.0.2.0/30', '192.0.2.3', true],
    ['192.0.2.0/30', '192.0.2.4', false],
    ['2001:db8::/129', '2001:db8::1', false],
    ['2001:db8:::/64', '2001:db8::1', false],
    ['1:2:3:4:5:6:7:8:9/64', '1:2:3:4::1', false],
  ])('%s holds %s: %s', (dst, address, holds) => expect(covers(dst, address)).toBe(holds));
});
