import { describe, expect, it } from 'vitest';
import type { Gateway } from '../../../src/core/types.js';
import {
  defaultRouteArgs,
  describeDefaultRoute,
  matchGateway,
  ownDefaultRoute,
  defaultRoutesOf,
  parseDefaultRoutes,
  type DefaultRoute,
} from '../../../src/system/routes.js';

const gateways: Gateway[] = [
  { name: 'isp1', ip: '192.0.2.1', priority: 1, probe: { mark: 0x4e470001, table: 195, ports: { from: 61000, to: 61063 } } },
  { name: 'isp2', ip: '192.0.2.5', dev: 'wan-2', priority: 2, probe: { mark: 0x4e470002, table: 196, ports: { from: 61064, to: 61127 } } },
  { name: 'lte', dev: 'ppp.0_x', priority: 3, probe: { mark: 0x4e470003, table: 197, ports: { from: 61128, to: 61191 } } },
];

describe('parseDefaultRoutes', () => {
  it('puts the route the kernel uses (lowest metric, then as listed) first, whatever the device names', () => {
    const json = JSON.stringify([
      { dst: 'default', gateway: '192.0.2.5', dev: 'wan-2', metric: 100, flags: [] },
      { dst: 'default', gateway: '192.0.2.1', dev: 'wan_1', flags: [] },
      { dst: 'default', dev: 'ppp.0_x', scope: 'link', metric: 200, flags: [] },
      { dst: 'default', gateway: '198.51.100.9', dev: 'eth0', flags: [] },
    ]);
    expect(parseDefaultRoutes(json)).toEqual([
      { type: 'unicast', gateway: '192.0.2.1', dev: 'wan_1', metric: 0 },
      { type: 'unicast', gateway: '198.51.100.9', dev: 'eth0', metric: 0 },
      { type: 'unicast', gateway: '192.0.2.5', dev: 'wan-2', metric: 100 },
      { type: 'unicast', gateway: undefined, dev: 'ppp.0_x', metric: 200 },
    ]);
  });

  it('keeps blackhole/unreachable/prohibit defaults, which win like any route, and copes with empty output', () => {
    // As ip -j prints them: no dev, no gateway.
    const json = JSON.stringify([
      { dst: 'default', gateway: '192.0.2.1', dev: 'wan_1', metric: 10, flags: [] },
      { type: 'blackhole', dst: 'default', metric: 5, flags: [] },
      { type: 'unreachable', dst: 'default', metric: 7, flags: [] },
    ]);
    expect(parseDefaultRoutes(json).map((route) => [route.type, route.metric])).toEqual([
      ['blackhole', 5],
      ['unreachable', 7],
      ['unicast', 10],
    ]);
    expect(parseDefaultRoutes('')).toEqual([]);
    expect(parseDefaultRoutes('[]')).toEqual([]);
  });
});

describe('defaultRoutesOf', () => {
  it("takes the main table's defaults from `ip -N -j route show table all`, with the route types by name", () => {
    // As ip -N prints them: numbers for types and tables, no table for main.
    const routes = [
      { dst: 'default', gateway: '192.0.2.1', dev: 'wan_1', metric: 10, flags: [] },
      { type: '6', dst: 'default', metric: 5, flags: [] },
      { dst: 'default', gateway: '192.0.2.5', dev: 'wan-2', table: '196', flags: [] },
      { type: '7', dst: 'default', table: '196', metric: 4294967295, flags: [] },
      { dst: '192.0.2.0/30', dev: 'wan_1', protocol: '2', scope: '253', flags: [] },
      { type: '2', dst: '192.0.2.2', dev: 'wan_1', table: '255', flags: [] },
    ];
    expect(defaultRoutesOf(routes)).toEqual([
      { type: 'blackhole', gateway: undefined, dev: undefined, metric: 5 },
      { type: 'unicast', gateway: '192.0.2.1', dev: 'wan_1', metric: 10 },
    ]);
  });
});

const unicast = (gateway: string | undefined, dev: string, metric = 0): DefaultRoute => ({ type: 'unicast', gateway, dev, metric });
const blackhole = (metric: number): DefaultRoute => ({ type: 'blackhole', metric });

describe('matchGateway', () => {
  it.each([
    ['an ip gateway on any device', unicast('192.0.2.1', 'wan_1'), 'isp1'],
    ['ip and dev both matching', unicast('192.0.2.5', 'wan-2'), 'isp2'],
    ['ip matching but another dev', unicast('192.0.2.5', 'eth9'), undefined],
    ['a dev-only gateway', unicast(undefined, 'ppp.0_x'), 'lte'],
    ['a route not in the config', unicast('198.51.100.9', 'eth0'), undefined],
    ['a blackhole', blackhole(0), undefined],
    ['no route', undefined, undefined],
  ])('%s', (_, route, name) => expect(matchGateway(route, gateways)?.name).toBe(name));
});

describe('ownDefaultRoute: the route netgwm goes by, and the one the kernel uses instead', () => {
  const isp1 = unicast('192.0.2.1', 'wan_1', 10);
  const foreign = unicast('198.51.100.9', 'eth0', 5);
  it.each([
    ["netgwm's route is the kernel's pick", [unicast('192.0.2.1', 'wan_1'), blackhole(5)], unicast('192.0.2.1', 'wan_1'), undefined],
    ['a blackhole with a lower metric wins', [blackhole(5), isp1], isp1, blackhole(5)],
    ['a blackhole alone sends everything nowhere', [blackhole(0)], blackhole(0), blackhole(0)],
    ['a foreign gateway with a lower metric wins', [foreign, isp1], isp1, foreign],
    ["a foreign gateway alone: no current gateway, nothing of netgwm's lost", [foreign], foreign, undefined],
    ['no default route at all', [], undefined, undefined],
  ])('%s', (_, routes, route, winner) => expect(ownDefaultRoute(routes, gateways)).toEqual({ route, ...(winner && { winner }) }));

  it('describes a route as ip would write it', () => {
    expect(describeDefaultRoute(blackhole(5))).toBe('blackhole default metric 5');
    expect(describeDefaultRoute(isp1)).toBe('default via 192.0.2.1 dev wan_1 metric 10');
  });
});

describe('defaultRouteArgs', () => {
  it('builds argv without a shell, dev only when configured, table when asked', () => {
    expect(defaultRouteArgs(gateways[0]!)).toEqual(['route', 'replace', 'default', 'via', '192.0.2.1', 'proto', '194']);
    expect(defaultRouteArgs(gateways[1]!, 194)).toEqual([
      'route',
      'replace',
      'default',
      'via',
      '192.0.2.5',
      'dev',
      'wan-2',
      'proto',
      '194',
      'table',
      '194',
    ]);
    expect(defaultRouteArgs(gateways[2]!)).toEqual(['route', 'replace', 'default', 'dev', 'ppp.0_x', 'proto', '194']);
  });
});
