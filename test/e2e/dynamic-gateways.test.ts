// Dynamic gateways on a real namespace network: a DHCP uplink served by a real dnsmasq in the
// operator's namespace to a real udhcpc (busybox, with Debian's own script, only given a metric)
// in the router's, whose gateway moves when dnsmasq is restarted with another router option; and
// a point-to-point link (an address with a peer) configured by `dev` only, whose peer moves. The
// daemon follows both: probe path, uplink table, default route, status and hooks.
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Harness, waitFor } from './harness.js';

// Uplink 3 becomes a DHCP uplink on 198.18.100.0/29: the operator serves 198.18.100.5 and is the
// gateway first at .1, then at .2. Uplink 2 becomes point to point: router 198.18.101.2, peer .1,
// then .3. (198.18.0.0/15 is for benchmarking: documentation-only addresses.)
const DHCP_SUBNET = '198.18.100.0/29';
const [FIRST_ROUTER, SECOND_ROUTER, LEASED] = ['198.18.100.1', '198.18.100.2', '198.18.100.5'];
const PPP_LOCAL = '198.18.101.2';
const [FIRST_PEER, SECOND_PEER] = ['198.18.101.1', '198.18.101.3'];
const HANG_GUARD_MS = 30_000;

describe('dynamic gateways (a DHCP uplink and a point-to-point uplink)', () => {
  let h: Harness;
  let dnsmasq: ResultPromise | undefined;
  let udhcpc: ResultPromise | undefined;
  let daemon: ResultPromise | undefined;
  const router = (args: string[]) => h.net.exec(h.net.routerNs, 'ip', args, { reject: false });
  const routes = async (table: string) =>
    JSON.parse((await router(['-j', '-4', 'route', 'show', 'table', table])).stdout || '[]') as Array<Record<string, unknown>>;
  /** The default route the kernel uses in `table` (main: lowest metric first). */
  const usedDefault = async (table = 'main') =>
    (await routes(table)).filter((route) => route.dst === 'default').sort((a, b) => Number(a.metric ?? 0) - Number(b.metric ?? 0))[0];
  const status = async () =>
    JSON.parse((await h.netgwm(['status', '--json'])).stdout) as { gateways: Array<{ name: string; ip: string | null; state: string }> };

  function startDnsmasq(gateway: string): ResultPromise {
    const operator = h.net.uplink(3).operatorNs;
    return execa(
      'ip',
      [
        ...['netns', 'exec', operator, 'dnsmasq', '--keep-in-foreground', '--conf-file=/dev/null', '--port=0', '--no-hosts'],
        ...['--interface=to-router', '--bind-interfaces', '--dhcp-authoritative', '--user=root', '--log-facility=-'],
        `--dhcp-range=${LEASED},${LEASED},255.255.255.248,2m`,
        `--dhcp-option=option:router,${gateway}`,
        `--dhcp-leasefile=${join(h.dir, 'dnsmasq.leases')}`,
        `--pid-file=${join(h.dir, 'dnsmasq.pid')}`,
      ],
      { reject: false, stdin: 'ignore' },
    );
  }

  async function stop(process: ResultPromise | undefined): Promise<void> {
    if (!process || process.exitCode !== null) return;
    process.kill('SIGTERM');
    await Promise.race([process, new Promise((done) => setTimeout(done, 5000).unref())]);
    if (process.exitCode === null) process.kill('SIGKILL');
  }

  beforeAll(async () => {
    h = await Harness.create();
    const [ppp, dhcp] = [h.net.uplink(2), h.net.uplink(3)];
    // The net routes the new subnets back through their operators.
    await h.net.exec(h.net.netNs, 'ip', ['route', 'add', DHCP_SUBNET, 'via', '198.18.3.2']);
    await h.net.exec(h.net.netNs, 'ip', ['route', 'add', `${PPP_LOCAL}/32`, 'via', '198.18.2.2']);
    // Point to point: /32 addresses with a peer on both ends.
    await h.net.exec(ppp.operatorNs, 'ip', ['addr', 'flush', 'dev', 'to-router']);
    await h.net.exec(ppp.operatorNs, 'ip', ['addr', 'add', FIRST_PEER, 'peer', `${PPP_LOCAL}/32`, 'dev', 'to-router']);
    await router(['addr', 'flush', 'dev', ppp.routerDev]);
    await router(['addr', 'add', PPP_LOCAL, 'peer', `${FIRST_PEER}/32`, 'dev', ppp.routerDev]);
    // DHCP: the operator's first gateway address; the router's side has no address until leased.
    await h.net.exec(dhcp.operatorNs, 'ip', ['addr', 'add', `${FIRST_ROUTER}/29`, 'dev', 'to-router']);
    await router(['addr', 'flush', 'dev', dhcp.routerDev]);
    // Debian's udhcpc script with a metric on its default route (see the README) and its resolver
    // file and syslog kept in the test's directory.
    const script = (await readFile('/etc/udhcpc/default.script', 'utf8'))
      .replace(/^RESOLV_CONF=.*$/m, `RESOLV_CONF="${join(h.dir, 'resolv.conf')}"`)
      .replace(/logger -t/, 'true')
      .replace(/(busybox ip -4 route add default via \$router dev \$interface \$onlink)/, '$1 metric 100');
    expect(script).toContain('metric 100');
    await writeFile(join(h.dir, 'udhcpc.script'), script);
    await chmod(join(h.dir, 'udhcpc.script'), 0o755);
    await writeFile(join(h.net.routerEtcDir, 'resolv.conf'), ''); // a belt to the braces above
    await h.writeConfig({
      gateways: {
        isp1: { ip: h.net.uplink(1).gatewayIp, dev: h.net.uplink(1).routerDev, priority: 3, mark: 1, table: 101 },
        lte: { dev: ppp.routerDev, priority: 2, mark: 2, table: 102 },
        dhcp: { ip: 'auto', dev: dhcp.routerDev, priority: 1, mark: 3, table: 103 },
      },
      nftables: { enabled: true },
      min_uptime: 0,
    });
  });
  afterAll(async () => {
    await Promise.all([stop(daemon), stop(udhcpc), stop(dnsmasq)]);
    await h?.destroy();
  });

  it('the point-to-point gateway (dev only) is its peer; the DHCP gateway, before its lease, has none and is down', async () => {
    daemon = h.daemon(['--interval', '600']);
    expect(await waitFor(async () => (await usedDefault())?.gateway === FIRST_PEER, HANG_GUARD_MS)).toBe(true);
    expect(await usedDefault()).toMatchObject({ dev: 'wan-2', protocol: '194' });
    expect(await usedDefault('102')).toMatchObject({ gateway: FIRST_PEER, dev: 'wan-2' });
    expect(await h.net.ping(h.net.routerNs, h.net.sites[0]!)).toBe(true);
    expect((await status()).gateways.find((gateway) => gateway.name === 'dhcp')).toMatchObject({ ip: null });
    expect((await status()).gateways.find((gateway) => gateway.name === 'dhcp')?.state).not.toBe('up');
    const lte = (await status()).gateways.find((gateway) => gateway.name === 'lte');
    expect(lte).toMatchObject({ ip: FIRST_PEER, state: 'up' });
    expect((await h.hookCalls()).at(-1)?.args.slice(0, 3)).toEqual(['lte', FIRST_PEER, 'wan-2']);
  });

  it('a DHCP lease: netgwm takes its gateway, fails back to it, and its route coexists with the client’s at metric 100', async () => {
    dnsmasq = startDnsmasq(FIRST_ROUTER);
    udhcpc = execa(
      'ip',
      [
        'netns',
        'exec',
        h.net.routerNs,
        'udhcpc',
        '-f',
        '-i',
        'wan.3',
        '-s',
        join(h.dir, 'udhcpc.script'),
        '-t',
        '30',
        '-T',
        '1',
        '-A',
        '1',
      ],
      { reject: false, stdin: 'ignore' },
    );
    // The client's route, then netgwm's in front of it (dhcp is the best gateway and min_uptime is 0).
    const main = async () => (await routes('main')).filter((route) => route.dst === 'default');
    expect(
      await waitFor(async () => {
        const defaults = await main();
        return defaults.length === 2 && defaults.every((route) => route.gateway === FIRST_ROUTER);
      }, HANG_GUARD_MS),
    ).toBe(true);
    expect((await main()).map((route) => [route.protocol ?? 'boot', route.metric ?? 0])).toEqual([
      ['194', 0],
      ['boot', 100],
    ]);
    expect(await usedDefault('103')).toMatchObject({ gateway: FIRST_ROUTER, dev: 'wan.3', protocol: '194' });
    // The hooks run after the route: wait for them.
    const hookArgs = ['dhcp', FIRST_ROUTER, 'wan.3', 'lte', FIRST_PEER, 'wan-2'];
    expect(await waitFor(async () => JSON.stringify((await h.hookCalls()).at(-1)?.args) === JSON.stringify(hookArgs), HANG_GUARD_MS)).toBe(
      true,
    );
    expect((await status()).gateways.find((gateway) => gateway.name === 'dhcp')).toMatchObject({ ip: FIRST_ROUTER, state: 'up' });
  });

  it('the lease moves the gateway (dnsmasq restarted with another router, udhcpc renews): netgwm follows', async () => {
    const operator = h.net.uplink(3).operatorNs;
    // A second address in the subnet, kept when the first goes (the kernel would drop it with the first).
    await h.net.exec(operator, 'sysctl', ['-q', '-w', 'net.ipv4.conf.to-router.promote_secondaries=1']);
    await h.net.exec(operator, 'ip', ['addr', 'add', `${SECOND_ROUTER}/29`, 'dev', 'to-router']);
    await stop(dnsmasq);
    dnsmasq = startDnsmasq(SECOND_ROUTER);
    // udhcpc renews its lease on SIGUSR1 (it would at half the lease time anyway).
    udhcpc!.kill('SIGUSR1');
    expect(await waitFor(async () => (await usedDefault())?.gateway === SECOND_ROUTER, HANG_GUARD_MS)).toBe(true);
    expect(await waitFor(async () => (await usedDefault('103'))?.gateway === SECOND_ROUTER, HANG_GUARD_MS)).toBe(true);
    // The old address is gone from the operator: only the new gateway can carry the traffic now.
    await h.net.exec(operator, 'ip', ['addr', 'del', `${FIRST_ROUTER}/29`, 'dev', 'to-router']);
    expect(await h.net.ping(h.net.routerNs, h.net.sites[0]!)).toBe(true);
    const marked = await h.net.exec(h.net.routerNs, 'ping', ['-n', '-q', '-c', '1', '-W', '1', '-m', '3', h.net.sites[1]!], {
      reject: false,
    });
    expect(marked.exitCode).toBe(0); // through table 103
    expect(await waitFor(async () => (await status()).gateways.find((g) => g.name === 'dhcp')?.ip === SECOND_ROUTER, HANG_GUARD_MS)).toBe(
      true,
    );
    expect((await h.logLines()).join('\n')).toContain(
      `gateway dhcp (ip: auto) is now ${SECOND_ROUTER} (was ${FIRST_ROUTER}), as the kernel has it for wan.3`,
    );
    // Debian's udhcpc script flushed every default route on wan.3 (netgwm's too) before adding its
    // own: netgwm's goes back in front of it, to the new address.
    const main = async () => (await routes('main')).filter((route) => route.dst === 'default');
    expect(await waitFor(async () => (await main()).length === 2, HANG_GUARD_MS)).toBe(true);
    expect((await main()).map((route) => [route.gateway, route.protocol ?? 'boot', route.metric ?? 0])).toEqual([
      [SECOND_ROUTER, '194', 0],
      [SECOND_ROUTER, 'boot', 100],
    ]);
  });

  it('the point-to-point peer moves: its routes follow', async () => {
    await stop(udhcpc); // leave the dhcp uplink to itself: lte must carry the traffic
    await h.net.failOperator(3);
    expect(await waitFor(async () => (await usedDefault())?.gateway === FIRST_PEER, HANG_GUARD_MS)).toBe(true);
    const ppp = h.net.uplink(2);
    await h.net.exec(ppp.operatorNs, 'ip', ['addr', 'flush', 'dev', 'to-router']);
    await h.net.exec(ppp.operatorNs, 'ip', ['addr', 'add', SECOND_PEER, 'peer', `${PPP_LOCAL}/32`, 'dev', 'to-router']);
    await router(['addr', 'flush', 'dev', ppp.routerDev]);
    await router(['addr', 'add', PPP_LOCAL, 'peer', `${SECOND_PEER}/32`, 'dev', ppp.routerDev]);
    expect(await waitFor(async () => (await usedDefault())?.gateway === SECOND_PEER, HANG_GUARD_MS)).toBe(true);
    expect(await usedDefault('102')).toMatchObject({ gateway: SECOND_PEER, dev: 'wan-2', protocol: '194' });
    expect(await h.net.ping(h.net.routerNs, h.net.sites[0]!)).toBe(true);
  });
});
