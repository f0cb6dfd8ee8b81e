import { describe, expect, it } from 'vitest';
import {
  planProbePaths,
  probeTableId,
  type IpRoute,
  type IpRule,
  type ProbePathsWanted,
  unsetMetric,
} from '../../../src/core/probe-paths.js';

// As `ip -N -j -6 -batch -` printed them on a dual-stack namespace router with isp1's IPv6 probe
// path in place (a link-local gateway, table 195): IPv6 routes added without a metric get 1024,
// the unreachable guard's dev is lo, connected routes have metric 256 and no scope.
const BOOT: IpRule[] = [
  { priority: 0, src: 'all', table: '255' },
  { priority: 32766, src: 'all', table: '254' },
];
const RULE1: IpRule = { priority: 1000, src: 'all', fwmark: '0x4e470001', table: '195' };
const ROUTE1: IpRoute = { dst: 'default', gateway: 'fe80::1', dev: 'wan_1', table: '195', metric: 1024, flags: [], pref: 'medium' };
const GUARD1: IpRoute = { type: '7', dst: 'default', dev: 'lo', table: '195', metric: 4294967294, flags: [], pref: 'medium' };
const MAIN: IpRoute[] = [
  { dst: '2001:db8:0:1::/64', dev: 'wan_1', protocol: '2', metric: 256, flags: [], pref: 'medium' },
  { dst: 'fe80::/64', dev: 'wan_1', protocol: '2', metric: 256, flags: [], pref: 'medium' },
  { dst: 'default', gateway: '2001:db8:0:1::1', dev: 'wan_1', protocol: '194', metric: 512, flags: [], pref: 'medium' },
  { dst: 'default', gateway: 'fe80::1', dev: 'wan-2', protocol: '9', metric: 1024, flags: [], pref: 'medium' },
  { type: '2', dst: '2001:db8:0:1::2', dev: 'wan_1', table: '255', protocol: '2', metric: 0, flags: [], pref: 'medium' },
];
const WANTED: ProbePathsWanted = {
  family: 6,
  pref: 1000,
  paths: [
    { gateway: 'isp1', mark: 0x4e470001, table: 195, via: 'fe80::1', dev: 'wan_1' },
    { gateway: 'isp2', mark: 0x4e470002, table: 196, via: '2001:db8:0:2::1', dev: 'wan-2' },
  ],
  ownedTables: new Set(Array.from({ length: 65 }, (_, slot) => probeTableId(194, slot))),
  ownedMarks: new Set(Array.from({ length: 65 }, (_, slot) => 0x4e470000 + slot)),
};

describe('planProbePaths for IPv6 (family 6)', () => {
  it('a path in place at the kernel-given metric 1024 needs nothing; a missing one gets guard, route, rule', () => {
    const plan = planProbePaths([BOOT[0]!, RULE1, BOOT[1]!], [ROUTE1, GUARD1, ...MAIN], WANTED);
    expect(plan).toEqual({
      devices: { isp1: 'wan_1' },
      lines: [
        { gateway: 'isp2', line: 'route add unreachable default metric 4294967294 table 196' },
        { gateway: 'isp2', line: 'route add default via 2001:db8:0:2::1 dev wan-2 table 196' },
        { gateway: 'isp2', line: 'rule add fwmark 0x4e470002 lookup 196 pref 1000' },
      ],
    });
  });

  it('the same route at metric 0 (as IPv4 would have it) is in place only for IPv4', () => {
    const ipv4Like = { ...ROUTE1, metric: 0 };
    const lines = planProbePaths([BOOT[0]!, RULE1], [ipv4Like, GUARD1], { ...WANTED, paths: [WANTED.paths[0]!] }).lines;
    expect(lines.map((entry) => entry.line)).toEqual([
      'route flush table 195',
      'route add unreachable default metric 4294967294 table 195',
      'route add default via fe80::1 dev wan_1 table 195',
    ]);
    const { family: _, ...ipv4 } = WANTED;
    const guard4 = { ...GUARD1, metric: 4294967295 };
    expect(planProbePaths([BOOT[0]!, RULE1], [ipv4Like, guard4], { ...ipv4, paths: [WANTED.paths[0]!] }).lines).toEqual([]);
  });

  it('removal (no paths wanted) takes every rule and table of netgwm, never main, RA defaults or local', () => {
    const lines = planProbePaths([BOOT[0]!, RULE1, BOOT[1]!], [ROUTE1, GUARD1, ...MAIN], { ...WANTED, paths: [] }).lines;
    expect(lines.map((entry) => entry.line)).toEqual(['rule del pref 1000 fwmark 0x4e470001 lookup 195', 'route flush table 195']);
  });

  it('an IPv6 guard at 4294967295 (which ip -6 route flush would skip) is not netgwm guard', () => {
    const lines = planProbePaths([BOOT[0]!, RULE1], [ROUTE1, { ...GUARD1, metric: 4294967295 }], { ...WANTED, paths: [WANTED.paths[0]!] });
    expect(lines.lines.map((entry) => entry.line)).toEqual([
      'route flush table 195',
      'route add unreachable default metric 4294967294 table 195',
      'route add default via fe80::1 dev wan_1 table 195',
    ]);
  });

  it('unsetMetric: what the kernel gives a route added without a metric', () => {
    expect([unsetMetric(undefined), unsetMetric(4), unsetMetric(6)]).toEqual([0, 0, 1024]);
  });
});
