// Proves the dual-stack test network (TestNetwork.create({ ipv6: true })) carries IPv6 through
// each operator, and that its failures can hit one family only.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Family, TestNetwork, type Uplink } from '../../../scripts/testnet/network.js';

// Source-based policy routing in the router, for both families: packets from uplink i's addresses
// look up table 100+i, whose default routes go via operator i (IPv6: via its link-local address on
// uplink 1, its global one elsewhere, so both kinds of next hop are used).
async function routeBySource(net: TestNetwork): Promise<void> {
  const commands = net.uplinks.flatMap((u) => [
    `-4 rule add from ${u.routerIp} lookup ${100 + u.index}`,
    `-4 route replace default via ${u.gatewayIp} dev ${u.routerDev} table ${100 + u.index}`,
    `-6 rule add from ${u.routerIp6} lookup ${100 + u.index}`,
    `-6 route replace default via ${u.index === 1 ? u.gatewayLinkLocal : u.gatewayIp6} dev ${u.routerDev} table ${100 + u.index}`,
  ]);
  // `ip -batch` takes no per-line family option, so one batch per family.
  for (const family of ['-4', '-6']) {
    const input = commands.filter((line) => line.startsWith(family)).map((line) => line.slice(3));
    await net.exec(net.routerNs, 'ip', [family, '-batch', '-'], { input: `${input.join('\n')}\n` });
  }
}

/** Does the router reach `site` through uplink i, from its address of the site's family? */
function reachesVia(net: TestNetwork, uplink: Uplink, site: string): Promise<boolean> {
  return net.ping(net.routerNs, site, { source: site.includes(':') ? uplink.routerIp6 : uplink.routerIp });
}

/** For every uplink, whether its first site of `family` answers through it. */
function everyUplink(net: TestNetwork, family: Family): Promise<boolean[]> {
  const site = family === 6 ? net.sites6[0]! : net.sites[0]!;
  return Promise.all(net.uplinks.map((uplink) => reachesVia(net, uplink, site)));
}

describe('TestNetwork with ipv6: true', () => {
  let net: TestNetwork;

  beforeAll(async () => {
    net = await TestNetwork.create({ uplinks: 2, sites: 2, ipv6: true });
    await routeBySource(net);
  });

  afterAll(async () => {
    await net?.destroy();
  });

  it('builds the documented dual-stack addressing, with no default route of either family', async () => {
    expect(net.sites6).toEqual(['2001:db8:ff::1', '2001:db8:ff::2']);
    expect(net.deadSite6).toBe('2001:db8:ff::200');
    expect(net.lanHostIp6).toBe('2001:db8:1::2');
    expect(net.uplinks.map(({ gatewayIp6, gatewayLinkLocal, routerIp6 }) => ({ gatewayIp6, gatewayLinkLocal, routerIp6 }))).toEqual([
      { gatewayIp6: '2001:db8:0:1::1', gatewayLinkLocal: 'fe80::1', routerIp6: '2001:db8:0:1::2' },
      { gatewayIp6: '2001:db8:0:2::1', gatewayLinkLocal: 'fe80::1', routerIp6: '2001:db8:0:2::2' },
    ]);
    expect(await net.defaultRoutes(4)).toEqual([]);
    expect(await net.defaultRoutes(6)).toEqual([]);
    const sysctl = await net.exec(net.routerNs, 'sysctl', ['-n', 'net.ipv6.conf.all.forwarding', 'net.ipv6.conf.all.accept_ra']);
    expect(sysctl.stdout.split('\n')).toEqual(['1', '0']);
  });

  it('reaches every IPv6 site through every operator, by global and by link-local next hop', async () => {
    for (const uplink of net.uplinks)
      for (const site of net.sites6) expect(await reachesVia(net, uplink, site), `${site} via ${uplink.routerDev}`).toBe(true);
  });

  it('failOperator with a family stops only that family through that operator', async () => {
    await net.failOperator(1, { family: 6 });
    expect(await everyUplink(net, 6)).toEqual([false, true]);
    expect(await everyUplink(net, 4)).toEqual([true, true]);
    await net.restoreOperator(1, { family: 6 });
    await net.failOperator(2, { family: 4 });
    expect(await everyUplink(net, 6)).toEqual([true, true]);
    expect(await everyUplink(net, 4)).toEqual([true, false]);
    await net.failOperator(2); // both
    expect(await everyUplink(net, 6)).toEqual([true, false]);
    await net.restoreOperator(2, { family: 6 });
    expect(await everyUplink(net, 6)).toEqual([true, true]);
    expect(await everyUplink(net, 4)).toEqual([true, false]);
    await net.restoreOperator(2);
    expect(await everyUplink(net, 4)).toEqual([true, true]);
  });

  it('setOperatorLoss with a family drops only that family', async () => {
    await net.setOperatorLoss(1, 100, { family: 6 });
    expect(await everyUplink(net, 6)).toEqual([false, true]);
    expect(await everyUplink(net, 4)).toEqual([true, true]);
    await net.setOperatorLoss(1, 0);
    expect(await everyUplink(net, 6)).toEqual([true, true]);
  });

  it('setSiteDead silences an IPv6 site and revives it', async () => {
    const [alive, dead] = net.sites6 as [string, string];
    await net.setSiteDead(dead, true);
    expect(await reachesVia(net, net.uplink(1), dead)).toBe(false);
    expect(await reachesVia(net, net.uplink(1), alive)).toBe(true);
    expect(await reachesVia(net, net.uplink(1), net.sites[1]!)).toBe(true);
    await net.setSiteDead(dead, false);
    expect(await reachesVia(net, net.uplink(1), dead)).toBe(true);
  });

  it('deadSite6 never answers, not even with an ICMPv6 error', async () => {
    const args = ['-n', '-c', '1', '-W', '1', '-I', net.uplink(1).routerIp6!, net.deadSite6!];
    const { stdout, exitCode } = await net.exec(net.routerNs, 'ping', args, { reject: false });
    expect(exitCode).not.toBe(0);
    expect(stdout).not.toMatch(/unreachable|prohibited/i);
  });

  it('setUplinkLink keeps the IPv6 address of the uplink, as for IPv4', async () => {
    await net.setUplinkLink(2, false);
    await net.setUplinkLink(2, true);
    // The routes through the link went with it: put the source route back.
    const uplink = net.uplink(2);
    await net.exec(net.routerNs, 'ip', [
      '-6',
      'route',
      'replace',
      'default',
      'via',
      uplink.gatewayIp6!,
      'dev',
      uplink.routerDev,
      'table',
      '102',
    ]);
    expect(await reachesVia(net, uplink, net.sites6[0]!)).toBe(true);
  });

  it('the LAN host reaches an IPv6 site through the router default route, and defaultRoutes(6) shows it', async () => {
    const via = ['-6', 'route', 'replace', 'default', 'via', net.uplink(2).gatewayIp6!, 'dev', net.uplink(2).routerDev];
    await net.exec(net.routerNs, 'ip', via);
    expect(await net.defaultRoutes(6)).toEqual([{ gateway: '2001:db8:0:2::1', dev: 'wan-2', metric: 1024 }]);
    expect(await net.ping(net.lanNs, net.sites6[0]!)).toBe(true);
    await net.failOperator(2, { family: 6 });
    expect(await net.ping(net.lanNs, net.sites6[0]!)).toBe(false);
    await net.restoreOperator(2);
  });
});

describe('TestNetwork without ipv6', () => {
  it('refuses IPv6 failures instead of pretending', async () => {
    const net = await TestNetwork.create({ uplinks: 1, sites: 1 });
    try {
      expect(net.sites6).toEqual([]);
      expect(net.uplink(1).gatewayIp6).toBeUndefined();
      await expect(net.failOperator(1, { family: 6 })).rejects.toThrow(/has no IPv6/);
      const addresses = await net.exec(net.routerNs, 'ip', ['-6', '-br', 'addr', 'show', 'scope', 'global']);
      expect(addresses.stdout.trim()).toBe('');
    } finally {
      await net.destroy();
    }
  });
});
