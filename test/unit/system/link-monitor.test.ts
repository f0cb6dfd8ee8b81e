// `ip -o monitor label link address route` lines (iproute2 6.1, captured in a namespace) and
// `ip -j link show`.
import { describe, expect, it } from 'vitest';
import { parseLinks, parseMonitorLine, readLinks } from '../../../src/system/link-monitor.js';
import { fakeExec } from './fake-exec.js';

describe('parseMonitorLine', () => {
  it.each([
    [
      '[LINK]2: va@if2: <NO-CARRIER,BROADCAST,MULTICAST,UP> mtu 1500 qdisc noqueue state DOWN group default \\    link/ether a6:7f:1d:bc:c6:77 brd ff:ff:ff:ff:ff:ff link-netns ngwt-a',
      { kind: 'link', dev: 'va', up: false },
    ],
    [
      '[LINK]2: va@if2: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP group default \\    link/ether a6:7f:1d:bc:c6:77 brd ff:ff:ff:ff:ff:ff',
      { kind: 'link', dev: 'va', up: true },
    ],
    [
      '[LINK]Deleted 4: vc@NONE: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN group default \\    link/ether 1e:9f:5d:51:cd:8a',
      { kind: 'link', dev: 'vc', up: false, gone: true },
    ],
    ['[LINK]7: wan.3: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP', { kind: 'link', dev: 'wan.3', up: true }],
    ['[LINK]8: wan_1@to-router: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500', { kind: 'link', dev: 'wan_1', up: true }],
    ['[ADDR]2: va    inet 192.0.2.7/24 scope global secondary va\\       valid_lft forever preferred_lft forever', { kind: 'address' }],
    ['[ADDR]Deleted 2: va    inet 192.0.2.7/24 scope global secondary va', { kind: 'address' }],
    ['[ROUTE]203.0.113.0/24 via 192.0.2.2 dev va table 7 ', { kind: 'route' }],
    ['[ROUTE]Deleted default via 192.0.2.1 dev wan_1 table 1001 ', { kind: 'route' }],
  ])('%s', (line, event) => {
    expect(parseMonitorLine(line)).toEqual(event);
  });

  it.each(['', 'garbage', '[NEIGH]192.0.2.1 dev va lladdr 00:00:5e:00:53:01 REACHABLE', '[LINK]not a link line'])('ignores %j', (line) => {
    expect(parseMonitorLine(line)).toBeUndefined();
  });
});

describe('readLinks', () => {
  it('maps every link to whether it has a carrier', async () => {
    const json = JSON.stringify([
      { ifindex: 1, ifname: 'lo', flags: ['LOOPBACK', 'UP', 'LOWER_UP'] },
      { ifindex: 2, ifname: 'va', flags: ['NO-CARRIER', 'BROADCAST', 'MULTICAST', 'UP'] },
      { ifindex: 3, ifname: 'wan_1', flags: ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'] },
    ]);
    const exec = fakeExec(() => ({ stdout: `${json}\n` }));
    expect(await readLinks(exec)).toEqual({ lo: true, va: false, wan_1: true });
    expect(exec.calls).toEqual([{ argv: ['ip', '-j', 'link', 'show'] }]);
    expect(parseLinks('')).toEqual({});
  });
});
