// Proves the namespace test network behaves as the e2e tests, demo and benchmarks assume.
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseDefaultRoutes, TestNetwork, type Uplink } from '../../../scripts/testnet/network.js';

const REPO_ROOT = fileURLToPath(new URL('../../..', import.meta.url));

/** Our namespaces that still exist (read from /run/netns, like `ip netns list`). */
function leftoverNamespaces(prefix: string): string[] {
  if (!existsSync('/run/netns')) return [];
  return readdirSync('/run/netns').filter((name) => name.startsWith(`${prefix}-`));
}

const uniquePrefix = () => `ngwt${randomBytes(3).toString('hex')}`;

// Source-based policy routing inside the router namespace: packets sent from uplink i's address
// use table 100+i, whose default route is via operator i. Replies pass the loose rp_filter because
// its lookup (source = our uplink address) matches the same rule.
async function routeBySource(net: TestNetwork, uplinks: Uplink[]): Promise<void> {
  const commands = uplinks.flatMap((u) => [
    `rule add from ${u.routerIp} lookup ${100 + u.index}`,
    `route replace default via ${u.gatewayIp} dev ${u.routerDev} table ${100 + u.index}`,
  ]);
  await net.exec(net.routerNs, 'ip', ['-batch', '-'], { input: `${commands.join('\n')}\n` });
}

/** Does the router reach `site` through uplink i (1-based)? */
function reachesVia(net: TestNetwork, i: number, site: string): Promise<boolean> {
  return net.ping(net.routerNs, site, { source: net.uplink(i).routerIp });
}

/** Percentage of `count` quick pings through uplink i that got no answer. */
async function lossVia(net: TestNetwork, i: number, site: string, count: number): Promise<number> {
  const args = ['-n', '-q', '-c', String(count), '-i', '0.002', '-W', '1', '-I', net.uplink(i).routerIp, site];
  const { stdout } = await net.exec(net.routerNs, 'ping', args, { reject: false });
  const match = /([\d.]+)% packet loss/.exec(stdout);
  if (!match) throw new Error(`unexpected ping output: ${stdout}`);
  return Number(match[1]);
}

describe('TestNetwork with 3 uplinks', () => {
  let net: TestNetwork;

  beforeAll(async () => {
    net = await TestNetwork.create();
    await routeBySource(net, net.uplinks);
  });

  afterAll(async () => {
    await net?.destroy();
  });

  it('builds the documented topology without a default route', async () => {
    expect(net.prefix).toMatch(/^ngw[0-9a-f]{6}$/);
    expect(net.routerNs).toBe(`${net.prefix}-r`);
    expect(net.netNs).toBe(`${net.prefix}-net`);
    expect(net.lanNs).toBe(`${net.prefix}-lan`);
    expect(net.sites).toEqual(['198.51.100.1', '198.51.100.2']);
    expect(net.deadSite).toBe('198.51.100.200');
    expect(net.uplinks).toEqual([
      { index: 1, operatorNs: `${net.prefix}-o1`, gatewayIp: '192.0.2.1', routerIp: '192.0.2.2', routerDev: 'wan_1' },
      { index: 2, operatorNs: `${net.prefix}-o2`, gatewayIp: '192.0.2.5', routerIp: '192.0.2.6', routerDev: 'wan-2' },
      { index: 3, operatorNs: `${net.prefix}-o3`, gatewayIp: '192.0.2.9', routerIp: '192.0.2.10', routerDev: 'wan.3' },
    ]);
    expect(leftoverNamespaces(net.prefix).sort()).toEqual([...net.namespaces].sort());
    expect(await net.defaultRoutes()).toEqual([]);

    const sysctl = await net.exec(net.routerNs, 'sysctl', [
      '-n',
      'net.ipv4.ip_forward',
      'net.ipv4.conf.all.rp_filter',
      'net.ipv4.conf.default.rp_filter',
    ]);
    expect(sysctl.stdout.split('\n')).toEqual(['1', '0', '0']); // Debian's default rp_filter
  });

  it('reaches every site through every uplink', async () => {
    for (const uplink of net.uplinks) {
      for (const site of net.sites) expect(await reachesVia(net, uplink.index, site), `${site} via ${uplink.routerDev}`).toBe(true);
    }
  });

  it('failOperator stops only that operator, restoreOperator brings it back, both idempotent', async () => {
    await net.failOperator(1);
    await net.failOperator(1);
    expect(await reachesVia(net, 1, net.sites[0]!)).toBe(false);
    expect(await net.ping(net.routerNs, net.uplink(1).gatewayIp)).toBe(true); // link stays up
    expect(await reachesVia(net, 2, net.sites[0]!)).toBe(true);

    await net.restoreOperator(1);
    await net.restoreOperator(1);
    expect(await reachesVia(net, 1, net.sites[0]!)).toBe(true);
  });

  it('setOperatorLoss drops about that share of round trips, 0 removes it', async () => {
    await net.setOperatorLoss(2, 100);
    expect(await reachesVia(net, 2, net.sites[0]!)).toBe(false);

    await net.setOperatorLoss(2, 50);
    const loss = await lossVia(net, 2, net.sites[0]!, 200);
    expect(loss).toBeGreaterThan(30); // binomial(200, 0.5): 30..70 is about 6 standard deviations
    expect(loss).toBeLessThan(70);

    await net.setOperatorLoss(2, 0);
    expect(await lossVia(net, 2, net.sites[0]!, 50)).toBe(0);
    await expect(net.setOperatorLoss(2, 101)).rejects.toThrow(RangeError);
  });

  it('setUplinkLink takes the router side down (the kernel drops routes through it) and up', async () => {
    await net.setUplinkLink(3, false);
    expect(await reachesVia(net, 3, net.sites[0]!)).toBe(false);
    const link = await net.exec(net.routerNs, 'ip', ['-br', 'link', 'show', 'dev', 'wan.3']);
    expect(link.stdout).toMatch(/\bDOWN\b/);

    await net.setUplinkLink(3, true);
    await routeBySource(net, [net.uplink(3)]);
    expect(await reachesVia(net, 3, net.sites[0]!)).toBe(true);
  });

  it('setSiteDead silences a site through every uplink and revives it', async () => {
    const [alive, dead] = net.sites as [string, string];
    await net.setSiteDead(dead, true);
    await net.setSiteDead(dead, true);
    const everyUplink = (site: string) => Promise.all(net.uplinks.map((u) => reachesVia(net, u.index, site)));
    expect(await everyUplink(dead)).toEqual([false, false, false]);
    expect(await everyUplink(alive)).toEqual([true, true, true]);
    await net.setSiteDead(dead, false);
    expect(await reachesVia(net, 1, dead)).toBe(true);
    await expect(net.setSiteDead('198.51.100.99', true)).rejects.toThrow(/not one of/);
  });

  it('deadSite never answers, not even with an ICMP error', async () => {
    const { stdout, exitCode } = await net.exec(
      net.routerNs,
      'ping',
      ['-n', '-c', '1', '-W', '1', '-I', net.uplink(1).routerIp, net.deadSite],
      { reject: false },
    );
    expect(exitCode).not.toBe(0);
    expect(stdout).not.toMatch(/unreachable|prohibited/i);
  });

  it('resolves the netgwm_check table name inside the router namespace only', async () => {
    const route = `${net.sites[0]}/32`;
    await net.exec(net.routerNs, 'ip', ['route', 'add', route, 'via', net.uplink(1).gatewayIp, 'table', 'netgwm_check']);
    const byName = await net.exec(net.routerNs, 'ip', ['route', 'show', 'table', 'netgwm_check']);
    const byNumber = await net.exec(net.routerNs, 'ip', ['route', 'show', 'table', '194']);
    expect(byName.stdout).toContain(net.sites[0]);
    expect(byNumber.stdout).toBe(byName.stdout);
    await net.exec(net.routerNs, 'ip', ['route', 'flush', 'table', 'netgwm_check']);

    const elsewhere = await net.exec(net.lanNs, 'ip', ['route', 'show', 'table', 'netgwm_check'], { reject: false });
    expect(elsewhere.exitCode).not.toBe(0);
    expect(elsewhere.stderr).toMatch(/table id value is invalid/);
  });

  it('setHosts gives the router namespace its own /etc/hosts', async () => {
    await net.setHosts({ 'site-one.test': net.sites[0]!, 'site-two.test': net.sites[1]! });
    // `-s files`: outside the router the name is unknown, and asking DNS would only time out.
    const found = await net.exec(net.routerNs, 'getent', ['-s', 'files', 'hosts', 'site-two.test']);
    expect(found.stdout).toMatch(new RegExp(`^${net.sites[1]!.replaceAll('.', '\\.')}\\s+site-two\\.test`));
    const elsewhere = await net.exec(net.lanNs, 'getent', ['-s', 'files', 'hosts', 'site-two.test'], { reject: false });
    expect(elsewhere.exitCode).toBe(2);
  });

  it('defaultRoutes reads single and multipath default routes; the LAN host then reaches a site', async () => {
    const [u1, u2] = net.uplinks as [Uplink, Uplink];
    const ip = (...args: string[]) => net.exec(net.routerNs, 'ip', args);
    try {
      await ip('route', 'add', 'default', 'via', u1.gatewayIp, 'dev', u1.routerDev, 'metric', '10');
      await ip('route', 'add', 'default', 'via', u2.gatewayIp, 'dev', u2.routerDev, 'metric', '20');
      expect(await net.defaultRoutes()).toEqual([
        { gateway: u1.gatewayIp, dev: u1.routerDev, metric: 10 },
        { gateway: u2.gatewayIp, dev: u2.routerDev, metric: 20 },
      ]);
      expect(await net.ping(net.lanNs, net.sites[0]!)).toBe(true);

      await ip('route', 'del', 'default', 'metric', '10');
      await ip(
        'route',
        'replace',
        'default',
        'metric',
        '20',
        'nexthop',
        'via',
        u1.gatewayIp,
        'dev',
        u1.routerDev,
        'nexthop',
        'via',
        u2.gatewayIp,
        'dev',
        u2.routerDev,
      );
      expect(await net.defaultRoutes()).toEqual([
        { gateway: u1.gatewayIp, dev: u1.routerDev, metric: 20 },
        { gateway: u2.gatewayIp, dev: u2.routerDev, metric: 20 },
      ]);
    } finally {
      await net.exec(net.routerNs, 'ip', ['route', 'flush', 'exact', '0.0.0.0/0']);
    }
    expect(await net.defaultRoutes()).toEqual([]);
  });

  it('exec refuses namespaces that are not part of the network', async () => {
    await expect(net.exec('some-other-ns', 'true', [])).rejects.toThrow(/not a namespace of network/);
  });
});

describe('TestNetwork lifecycle', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('destroy removes every namespace and the /etc/netns directory, and is safe to call twice', async () => {
    const net = await TestNetwork.create({ uplinks: 1, sites: 1 });
    expect(existsSync(net.routerEtcDir)).toBe(true);
    await net.destroy();
    await net.destroy();
    const { stdout } = await execa('ip', ['netns', 'list']);
    for (const ns of net.namespaces) expect(stdout.split('\n').map((line) => line.split(' ')[0])).not.toContain(ns);
    expect(existsSync(net.routerEtcDir)).toBe(false);
  });

  it('builds 8 uplinks and 4 sites, every uplink working', async () => {
    const started = performance.now();
    const net = await TestNetwork.create({ uplinks: 8, sites: 4 });
    const built = performance.now();
    try {
      expect(net.uplinks.map((u) => u.routerDev)).toEqual(['wan_1', 'wan-2', 'wan.3', 'wan4', 'wan5', 'wan6', 'wan7', 'wan8']);
      expect(net.uplink(8)).toMatchObject({ gatewayIp: '192.0.2.29', routerIp: '192.0.2.30' });
      await routeBySource(net, net.uplinks);
      const answers = await Promise.all(net.uplinks.map((u) => reachesVia(net, u.index, net.sites[3]!)));
      expect(answers).toEqual(net.uplinks.map(() => true));
    } finally {
      const cleaning = performance.now();
      await net.destroy();
      console.log(`8 uplinks: create ${(built - started).toFixed(0)} ms, destroy ${(performance.now() - cleaning).toFixed(0)} ms`);
    }
    expect(leftoverNamespaces(net.prefix)).toEqual([]);
  });

  it('refuses a prefix that is in use and leaves the other network alone', async () => {
    const net = await TestNetwork.create({ uplinks: 1, sites: 1, prefix: uniquePrefix() });
    try {
      await expect(TestNetwork.create({ prefix: net.prefix })).rejects.toThrow(/already exist/);
      expect(leftoverNamespaces(net.prefix).sort()).toEqual([...net.namespaces].sort());
      expect(existsSync(net.routerEtcDir)).toBe(true);
    } finally {
      await net.destroy();
    }
  });

  it('cleans up what it built when building fails half-way', async () => {
    const prefix = uniquePrefix();
    type Configure = { configure(): Promise<void> };
    vi.spyOn(TestNetwork.prototype as unknown as Configure, 'configure').mockRejectedValueOnce(new Error('boom'));
    await expect(TestNetwork.create({ prefix })).rejects.toThrow('boom');
    expect(leftoverNamespaces(prefix)).toEqual([]);
    expect(existsSync(`/etc/netns/${prefix}-r`)).toBe(false);
  });

  it('rejects bad options before creating anything', async () => {
    await expect(TestNetwork.create({ uplinks: 17 })).rejects.toThrow(RangeError);
    await expect(TestNetwork.create({ sites: 0 })).rejects.toThrow(RangeError);
    await expect(TestNetwork.create({ prefix: 'a b' })).rejects.toThrow(RangeError);
  });

  // The safety net must work in a process of its own: one that exits without destroy(), and one
  // that is killed by SIGTERM (which must still end it, since nothing else handles the signal).
  it.each([
    ['exits without destroy()', 'process.exit(0);', { exitCode: 0 }],
    ['is killed by SIGTERM', 'process.kill(process.pid, "SIGTERM"); setInterval(() => {}, 1000);', { signal: 'SIGTERM' }],
  ])('the safety net deletes the namespaces when a process %s', async (_, ending, expected) => {
    const prefix = uniquePrefix();
    const script = [
      `import { TestNetwork } from './scripts/testnet/network.ts';`,
      `await TestNetwork.create({ uplinks: 1, sites: 1, prefix: '${prefix}' });`,
      ending,
    ].join('\n');
    const child = await execa('node', ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: REPO_ROOT,
      reject: false,
      timeout: 30_000,
    });
    expect(child.stderr).toBe('');
    expect(child).toMatchObject(expected);
    expect(leftoverNamespaces(prefix)).toEqual([]);
    expect(existsSync(`/etc/netns/${prefix}-r`)).toBe(false);
  });
});

describe('parseDefaultRoutes', () => {
  it('handles no output, a device-only route and a multipath route', () => {
    expect(parseDefaultRoutes('')).toEqual([]);
    expect(parseDefaultRoutes('[{"dst":"default","dev":"wan_1","scope":"link","flags":[]}]')).toEqual([{ dev: 'wan_1' }]);
    const multipath =
      '[{"dst":"default","flags":[],"nexthops":[{"gateway":"192.0.2.1","dev":"wan_1","weight":1,"flags":[]},{"gateway":"192.0.2.5","dev":"wan-2","weight":1,"flags":[]}]}]';
    expect(parseDefaultRoutes(multipath)).toEqual([
      { gateway: '192.0.2.1', dev: 'wan_1' },
      { gateway: '192.0.2.5', dev: 'wan-2' },
    ]);
  });
});
