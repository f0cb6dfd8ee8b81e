import { describe, expect, it } from 'vitest';
import type { Gateway } from '../../../src/core/types.js';
import { defaultRouteArgs, matchGateway, parseDefaultRoutes } from '../../../src/system/routes.js';

const gateways: Gateway[] = [
  { name: 'isp1', ip: '192.0.2.1', priority: 1 },
  { name: 'isp2', ip: '192.0.2.5', dev: 'wan-2', priority: 2 },
  { name: 'lte', dev: 'ppp.0_x', priority: 3 },
];

describe('parseDefaultRoutes', () => {
  it('puts the route the kernel uses (lowest metric) first, whatever the device names', () => {
    const json = JSON.stringify([
      { dst: 'default', gateway: '192.0.2.5', dev: 'wan-2', metric: 100, flags: [] },
      { dst: 'default', gateway: '192.0.2.1', dev: 'wan_1', flags: [] },
      { dst: 'default', dev: 'ppp.0_x', scope: 'link', metric: 200, flags: [] },
    ]);
    expect(parseDefaultRoutes(json)).toEqual([
      { gateway: '192.0.2.1', dev: 'wan_1', metric: 0 },
      { gateway: '192.0.2.5', dev: 'wan-2', metric: 100 },
      { gateway: undefined, dev: 'ppp.0_x', metric: 200 },
    ]);
  });

  it('ignores blackhole/unreachable defaults and copes with empty output', () => {
    expect(parseDefaultRoutes(JSON.stringify([{ type: 'unreachable', dst: 'default', flags: [] }]))).toEqual([]);
    expect(parseDefaultRoutes('')).toEqual([]);
    expect(parseDefaultRoutes('[]')).toEqual([]);
  });
});

describe('matchGateway', () => {
  it.each([
    ['an ip gateway on any device', { gateway: '192.0.2.1', dev: 'wan_1', metric: 0 }, 'isp1'],
    ['ip and dev both matching', { gateway: '192.0.2.5', dev: 'wan-2', metric: 0 }, 'isp2'],
    ['ip matching but another dev', { gateway: '192.0.2.5', dev: 'eth9', metric: 0 }, undefined],
    ['a dev-only gateway', { dev: 'ppp.0_x', metric: 0 }, 'lte'],
    ['a route not in the config', { gateway: '198.51.100.9', dev: 'eth0', metric: 0 }, undefined],
    ['no route', undefined, undefined],
  ])('%s', (_, route, name) => expect(matchGateway(route, gateways)?.name).toBe(name));
});

describe('defaultRouteArgs', () => {
  it('builds argv without a shell, dev only when configured, table when asked', () => {
    expect(defaultRouteArgs(gateways[0]!)).toEqual(['route', 'replace', 'default', 'via', '192.0.2.1']);
    expect(defaultRouteArgs(gateways[1]!, 194)).toEqual(['route', 'replace', 'default', 'via', '192.0.2.5', 'dev', 'wan-2', 'table', '194']);
    expect(defaultRouteArgs(gateways[2]!)).toEqual(['route', 'replace', 'default', 'dev', 'ppp.0_x']);
  });
});
