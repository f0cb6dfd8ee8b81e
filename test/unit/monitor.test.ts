import { beforeAll, describe, expect, it } from 'vitest';
import { pathsOf } from '../../src/monitor.js';
import { configFixture, type ConfigFixture } from './config/fixture.js';

let fixture: ConfigFixture;

beforeAll(async () => {
  fixture = await configFixture();
});

describe('pathsOf: what the daemon monitor watches', () => {
  it.each([
    [
      'IPv4 only: the gateways by name, as ever',
      'isp1: {ip: 192.0.2.1, priority: 1}\n  lte: {dev: ppp0, priority: 2}',
      undefined,
      ['isp1', 'lte'],
    ],
    [
      'dual stack: every gateway x family path, IPv6 ones keyed name/6',
      'isp1: {ip: 192.0.2.1, ip6: 2001:db8::1, priority: 1}\n  v6: {ip6: fe80::1, dev: wan2, priority: 2}',
      undefined,
      ['isp1', 'isp1/6', 'v6/6'],
    ],
    [
      'one family',
      'isp1: {ip: 192.0.2.1, ip6: 2001:db8::1, priority: 1}\n  v6: {ip6: fe80::1, dev: wan2, priority: 2}',
      6 as const,
      ['isp1/6', 'v6/6'],
    ],
  ])('%s', async (_name, gateways, only, paths) => {
    const { config } = await fixture.load(`gateways:\n  ${gateways}\ncheck_sites: [198.51.100.1, check.example.net]\n`);
    const watched = pathsOf(config, only);
    expect(watched.map((path) => path.name)).toEqual(paths);
    // Each path probes through its gateway's own mark in both families.
    expect(new Set(watched.map((path) => path.probe.mark)).size).toBe(new Set(paths.map((path) => path.split('/')[0])).size);
  });
});
