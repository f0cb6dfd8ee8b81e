import { describe, expect, it } from 'vitest';
import { localAddresses } from '../../../src/system/local-addresses.js';
import { MONITOR_ARGS, monitorArgs, parseMonitorLine } from '../../../src/system/link-monitor.js';

describe('monitorArgs', () => {
  it('IPv4 only by default, as before; both families without a family option; IPv6 alone with -6', () => {
    expect(monitorArgs()).toEqual(MONITOR_ARGS);
    expect(monitorArgs([4])).toEqual(['-4', '-o', 'monitor', 'label', 'link', 'address', 'route']);
    expect(monitorArgs([4, 6])).toEqual(['-o', 'monitor', 'label', 'link', 'address', 'route']);
    expect(monitorArgs([6])).toEqual(['-6', '-o', 'monitor', 'label', 'link', 'address', 'route']);
  });

  it('IPv6 route and address lines are events like IPv4 ones', () => {
    expect(parseMonitorLine('[ROUTE]default via fe80::1 dev wan_1 proto ra metric 1024 expires 1799sec pref medium')).toEqual({
      kind: 'route',
    });
    expect(parseMonitorLine('[ROUTE]Deleted 2001:db8:0:2::/64 dev wan-2 proto kernel metric 256 pref medium')).toEqual({ kind: 'route' });
    expect(
      parseMonitorLine('[ADDR]3: wan-2    inet6 2001:db8:0:2::2/64 scope global \\       valid_lft forever preferred_lft forever'),
    ).toEqual({
      kind: 'address',
    });
  });
});

describe('localAddresses', () => {
  it('has the IPv6 loopback next to the IPv4 one (when the host has IPv6)', () => {
    const addresses = localAddresses();
    expect(addresses.has('127.0.0.1')).toBe(true);
    const ipv6 = [...addresses].filter((address) => address.includes(':'));
    if (ipv6.length > 0) expect(addresses.has('::1')).toBe(true);
  });
});
