import { describe, expect, it } from 'vitest';
import { planProbePaths, probeTableId, type IpRoute, type IpRule, type ProbePathsWanted } from '../../../src/core/probe-paths.js';

// As `ip -N -j -4 -batch -` printed them (rule list, route show table all) on a router with the
// probe paths of isp1 (table 195) and isp2 (table 196) in place.
const BOOT: IpRule[] = [
  { priority: 0, src: 'all', table: '255' },
  { priority: 32766, src: 'all', table: '254' },
  { priority: 32767, src: 'all', table: '253' },
];
const RULE1: IpRule = { priority: 1000, src: 'all', fwmark: '0x4e470001', table: '195' };
const RULE2: IpRule = { priority: 1000, src: 'all', fwmark: '0x4e470002', table: '196' };
const RULES: IpRule[] = [BOOT[0]!, RULE1, RULE2, ...BOOT.slice(1)];
const guard = (table: number): IpRoute => ({ type: '7', dst: 'default', table: String(table), metric: 4294967295, flags: [] });
const ROUTE1: IpRoute = { dst: 'default', gateway: '192.0.2.1', dev: 'wan1', table: '195', flags: [] };
const ROUTE2: IpRoute = { dst: 'default', gateway: '198.51.100.1', dev: 'wan2', table: '196', flags: [] };
const MAIN: IpRoute[] = [
  { dst: 'default', gateway: '192.0.2.1', dev: 'wan1', flags: [] },
  { dst: '192.0.2.0/24', dev: 'wan1', protocol: '2', scope: '253', prefsrc: '192.0.2.2', flags: [] },
  { type: '2', dst: '192.0.2.2', dev: 'wan1', table: '255', protocol: '2', scope: '254', prefsrc: '192.0.2.2', flags: [] },
];
const ROUTES: IpRoute[] = [ROUTE1, guard(195), ROUTE2, guard(196), ...MAIN];

const WANTED: ProbePathsWanted = {
  pref: 1000,
  paths: [
    { gateway: 'isp1', mark: 0x4e470001, table: 195, via: '192.0.2.1', dev: 'wan1' },
    { gateway: 'isp2', mark: 0x4e470002, table: 196, via: '198.51.100.1' },
  ],
  ownedTables: new Set(Array.from({ length: 65 }, (_, slot) => probeTableId(194, slot))),
  ownedMarks: new Set(Array.from({ length: 65 }, (_, slot) => 0x4e470000 + slot)),
};
const lines = (rules: IpRule[], routes: IpRoute[], wanted = WANTED) =>
  planProbePaths(rules, routes, wanted).lines.map((entry) => entry.line);

describe('planProbePaths', () => {
  it('all in place: nothing to do, and the dev of each probe route', () => {
    expect(planProbePaths(RULES, ROUTES, WANTED)).toEqual({ lines: [], devices: { isp1: 'wan1', isp2: 'wan2' } });
  });

  it('a route the kernel marks linkdown is still in place (the probes will tell)', () => {
    expect(lines(RULES, [{ ...ROUTE1, flags: ['linkdown'] }, guard(195), ROUTE2, guard(196)])).toEqual([]);
  });

  it('nothing installed: per gateway the unreachable guard, the route and the rule, in that order', () => {
    const plan = planProbePaths(BOOT, MAIN, WANTED);
    expect(plan.lines).toEqual([
      { gateway: 'isp1', line: 'route add unreachable default metric 4294967295 table 195' },
      { gateway: 'isp1', line: 'route add default via 192.0.2.1 dev wan1 table 195' },
      { gateway: 'isp1', line: 'rule add fwmark 0x4e470001 lookup 195 pref 1000' },
      { gateway: 'isp2', line: 'route add unreachable default metric 4294967295 table 196' },
      { gateway: 'isp2', line: 'route add default via 198.51.100.1 table 196' },
      { gateway: 'isp2', line: 'rule add fwmark 0x4e470002 lookup 196 pref 1000' },
    ]);
    expect(plan.devices).toEqual({});
  });

  it('the route the kernel removed with its link: only that route is added again', () => {
    expect(lines(RULES, [guard(195), ROUTE2, guard(196)])).toEqual(['route add default via 192.0.2.1 dev wan1 table 195']);
  });

  it('removes the old single check table (its rule at any preference and its routes) before adding anything', () => {
    const old: IpRule = { priority: 1000, src: 'all', fwmark: '0x4e470000', table: '194' };
    const oldRoute: IpRoute = { dst: 'default', gateway: '198.51.100.1', dev: 'wan2', table: '194', flags: [] };
    expect(lines([BOOT[0]!, old, ...BOOT.slice(1)], [oldRoute, ...MAIN])).toEqual([
      'rule del pref 1000 fwmark 0x4e470000 lookup 194',
      'route flush table 194',
      'route add unreachable default metric 4294967295 table 195',
      'route add default via 192.0.2.1 dev wan1 table 195',
      'rule add fwmark 0x4e470001 lookup 195 pref 1000',
      'route add unreachable default metric 4294967295 table 196',
      'route add default via 198.51.100.1 table 196',
      'rule add fwmark 0x4e470002 lookup 196 pref 1000',
    ]);
  });

  it('a table holding something else starts again from empty', () => {
    const wrong: IpRoute = { ...ROUTE1, gateway: '198.51.100.1', dev: 'wan2' };
    const extra: IpRoute = { dst: '203.0.113.10', gateway: '198.51.100.1', dev: 'wan2', table: '196', flags: [] };
    expect(lines(RULES, [wrong, guard(195), ROUTE2, guard(196), extra])).toEqual([
      'route flush table 195',
      'route flush table 196',
      'route add unreachable default metric 4294967295 table 195',
      'route add default via 192.0.2.1 dev wan1 table 195',
      'route add unreachable default metric 4294967295 table 196',
      'route add default via 198.51.100.1 table 196',
    ]);
  });

  it('a gateway removed from the config: its rule and table go; a rule duplicated or with another mark is replaced', () => {
    const gone: IpRule = { priority: 1000, src: 'all', fwmark: '0x4e470003', table: '197' };
    const wrongMark: IpRule = { ...RULE2, fwmark: '0x4e470009' };
    const goneRoute: IpRoute = { dst: 'default', gateway: '203.0.113.1', dev: 'wan3', table: '197', flags: [] };
    expect(lines([BOOT[0]!, RULE1, RULE1, wrongMark, gone, ...BOOT.slice(1)], [...ROUTES, goneRoute])).toEqual([
      'rule del pref 1000 fwmark 0x4e470001 lookup 195',
      'rule del pref 1000 fwmark 0x4e470009 lookup 196',
      'rule del pref 1000 fwmark 0x4e470003 lookup 197',
      'route flush table 197',
      'rule add fwmark 0x4e470002 lookup 196 pref 1000',
    ]);
  });

  it('never touches a system table, even one given as owned', () => {
    const wanted = { ...WANTED, ownedTables: new Set([...WANTED.ownedTables, 253, 254, 255]) };
    expect(lines(RULES, ROUTES, wanted)).toEqual([]);
  });

  it("leaves others' rules and tables alone: the gateways' own fwmark rules, main, a table outside the range", () => {
    const others: IpRule[] = [
      { priority: 1100, src: 'all', table: '254', suppress_prefixlen: 0 },
      { priority: 1101, src: 'all', fwmark: '0x1', fwmask: '0xff', table: '101' },
      { priority: 1000, src: 'all', fwmark: '0x4e470001', fwmask: '0xffff0000', table: '300' },
      { priority: 2000, src: '10.0.0.0/8', table: '300' },
    ];
    const routes: IpRoute[] = [...ROUTES, { dst: 'default', gateway: '192.0.2.1', dev: 'wan1', table: '101', flags: [] }];
    expect(lines([...RULES, ...others], routes)).toEqual([]);
  });

  it('a rule at the probe preference with extra selectors is not the wanted one: it is deleted by all of them', () => {
    const withIif: IpRule = { ...RULE1, iif: 'lan0' };
    expect(lines([BOOT[0]!, withIif, RULE2, ...BOOT.slice(1)], ROUTES)).toEqual([
      'rule del pref 1000 fwmark 0x4e470001 iif lan0 lookup 195',
      'rule add fwmark 0x4e470001 lookup 195 pref 1000',
    ]);
  });
});

describe('probeTableId', () => {
  it.each([
    [194, 0, 194],
    [194, 1, 195],
    [194, 58, 252],
    [194, 59, 256],
    [250, 3, 256],
    [256, 1, 257],
    [1000, 64, 1064],
  ])('check_table %i, gateway %i: table %i', (check, index, table) => {
    expect(probeTableId(check, index)).toBe(table);
  });
});
