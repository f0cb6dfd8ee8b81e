// IPv6 on a dual-stack namespace network: each family fails over and back on its own decision,
// hooks get each family's values, an IPv6-only uplink and a link-local gateway work, and the
// kernel's router-advertisement default is left alone behind netgwm's own.
//
// On the dual-stack test network (`TestNetwork.create({ ipv6: true })`: uplink i's operator at
// 2001:db8:0:i::1 and its link-local address, sites 2001:db8:ff::k, failOperator(i, { family })).
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activeMarks } from './firewall/support.js';
import { Harness, waitFor } from './harness.js';

/** The dual-stack parts of the test network this file uses, as present (not optional) on an `ipv6: true` one. */
interface DualStackNetwork {
  uplinks: Array<{ index: number; routerDev: string; gatewayIp: string; gatewayIp6: string; gatewayLinkLocal: string }>;
  sites: string[];
  sites6: string[];
  routerNs: string;
  failOperator(i: number, options: { family: 4 | 6 }): Promise<void>;
  restoreOperator(i: number, options: { family: 4 | 6 }): Promise<void>;
  exec(ns: string, file: string, args: string[], options?: { reject?: boolean }): Promise<{ stdout: string; exitCode: number }>;
}

interface Route6 {
  gateway?: string;
  dev: string;
  metric?: number;
  protocol?: string;
}

// Records the family and the six arguments of every call, one line each.
const FAMILY_HOOK = `#!/bin/sh
printf '%s\\t%s' "$NETGWM_FAMILY" "$NETGWM_EVENT" >> "$0.calls"
for arg in "$@"; do printf '\\t%s' "$arg" >> "$0.calls"; done
echo >> "$0.calls"
`;

/** A dual-stack harness with the family-recording hook. */
async function dualStack(config: (net: DualStackNetwork) => Record<string, unknown>): Promise<{
  h: Harness;
  net: DualStackNetwork;
  route6: () => Promise<Route6[]>;
  current6: () => Promise<string | undefined>;
  calls: () => Promise<string[][]>;
}> {
  const h = await Harness.create({ ipv6: true });
  if (h.net.sites6.length === 0 || h.net.uplinks.some((uplink) => !uplink.gatewayIp6)) {
    await h.destroy();
    throw new Error('the test network made with ipv6: true has no IPv6 sites or gateways');
  }
  const net = h.net as DualStackNetwork; // checked just above
  await h.writeConfig(config(net));
  await writeFile(join(h.hooksDir(), '60-family'), FAMILY_HOOK, { mode: 0o755 });
  const route6 = async () =>
    JSON.parse((await net.exec(net.routerNs, 'ip', ['-6', '-j', 'route', 'show', 'table', 'main', 'default'])).stdout || '[]') as Route6[];
  return {
    h,
    net,
    route6,
    // The kernel's pick: the lowest metric.
    current6: async () => {
      const [used] = (await route6()).sort((a, b) => (a.metric ?? 0) - (b.metric ?? 0));
      const uplink = net.uplinks.find(
        (candidate) =>
          (candidate.gatewayIp6 === used?.gateway || candidate.gatewayLinkLocal === used?.gateway) && candidate.routerDev === used?.dev,
      );
      return uplink && `isp${uplink.index}`;
    },
    calls: async () =>
      (await readFile(join(h.hooksDir(), '60-family.calls'), 'utf8').catch(() => ''))
        .split('\n')
        .filter(Boolean)
        .map((line) => line.split('\t')),
  };
}

type DualStackRun = Awaited<ReturnType<typeof dualStack>>;

/** A dual-stack harness for the enclosing describe. */
function dualStackSuite(config: (net: DualStackNetwork) => Record<string, unknown>): () => DualStackRun {
  let run: DualStackRun | undefined;
  beforeAll(async () => {
    run = await dualStack(config);
  });
  afterAll(async () => {
    await run?.h.destroy();
  });
  return () => {
    if (!run) throw new Error('the dual-stack network was not set up (see the beforeAll error)');
    return run;
  };
}

/** isp1…ispN with both addresses and priority i, plus `extra` of each uplink. */
function dualGateways(net: DualStackNetwork, extra: (uplink: DualStackNetwork['uplinks'][number]) => object = () => ({})) {
  return Object.fromEntries(
    net.uplinks.map((uplink) => [
      `isp${uplink.index}`,
      { ip: uplink.gatewayIp, ip6: uplink.gatewayIp6, priority: uplink.index, ...extra(uplink) },
    ]),
  );
}

describe('IPv4 and IPv6 decided apart (3 dual-stack uplinks)', () => {
  const suite = dualStackSuite((net) => ({
    gateways: dualGateways(net),
    check_sites: [...net.sites, ...net.sites6],
    check_all_gateways: true,
  }));

  it('first start sets both default routes and runs the hooks once per family', async () => {
    const t = suite();
    const { h, net } = t;
    expect(await h.run()).toMatchObject({ exitCode: 0, stdout: '', stderr: '' });
    expect(await h.currentGateway()).toBe('isp1');
    expect(await t.current6()).toBe('isp1');
    const [uplink1] = net.uplinks;
    expect((await t.calls()).sort()).toEqual(
      [
        ['4', 'start', 'isp1', uplink1!.gatewayIp, uplink1!.routerDev, 'NaN', 'NaN', 'NaN'],
        ['6', 'start', 'isp1', uplink1!.gatewayIp6, uplink1!.routerDev, 'NaN', 'NaN', 'NaN'],
      ].sort(),
    );
    // netgwm's IPv6 route has its own metric, below the kernel's RA defaults (1024).
    expect((await t.route6()).find((route) => route.gateway === uplink1!.gatewayIp6)).toMatchObject({ metric: 512 });
    const lines = (await h.logLines()).join('\n');
    expect(lines).toMatch(/INFO IPv6: route replaced to: via 2001:db8:0:1::1 dev \S+ \(isp1, was none: /);
    expect(lines).toMatch(/INFO route replaced to: via 192\.0\.2\.1 dev \S+ \(isp1, was none: /);
  });

  it('IPv6 broken on the primary while its IPv4 works: only IPv6 moves, hooks get the IPv6 values', async () => {
    const t = suite();
    const { h, net } = t;
    h.advanceClock(61); // the backups have been up since the first run: stable (min_uptime 60)
    await net.failOperator(1, { family: 6 });
    expect((await h.run()).exitCode).toBe(0);
    expect(await h.currentGateway()).toBe('isp1');
    expect(await t.current6()).toBe('isp2');
    const [uplink1, uplink2] = net.uplinks;
    expect((await t.calls()).at(-1)).toEqual([
      '6',
      'switch',
      'isp2',
      uplink2!.gatewayIp6,
      uplink2!.routerDev,
      'isp1',
      uplink1!.gatewayIp6,
      uplink1!.routerDev,
    ]);
    expect((await h.logLines()).join('\n')).toMatch(/IPv6: route replaced to: via 2001:db8:0:2::1 dev \S+ \(isp2, was isp1: isp1 down/);
  });

  it('status shows a row per gateway and family, and the IPv6 decision', async () => {
    const t = suite();
    const result = await t.h.netgwm(['status', '--json']);
    const doc = JSON.parse(result.stdout) as {
      families: number[];
      active: string;
      gateways: Array<{ name: string; family: number; state: string }>;
      ipv6: { active: string; last_switch: { from: string; to: string } };
    };
    expect(doc.families).toEqual([4, 6]);
    expect(doc.active).toBe('isp1');
    expect(doc.ipv6).toMatchObject({ active: 'isp2', last_switch: { from: 'isp1', to: 'isp2' } });
    expect(doc.gateways.map((row) => `${row.name}/${row.family} ${row.state}`)).toEqual([
      'isp1/4 up',
      'isp2/4 up',
      'isp3/4 up',
      'isp1/6 down',
      'isp2/6 up',
      'isp3/6 up',
    ]);
  });

  it('IPv6 comes back: no failback before min_uptime, failback after', async () => {
    const t = suite();
    const { h, net } = t;
    await net.restoreOperator(1, { family: 6 });
    await h.run();
    expect(await t.current6()).toBe('isp2');
    h.advanceClock(50);
    await h.run();
    expect(await t.current6()).toBe('isp2'); // up for 50 s of the 60 s min_uptime
    h.advanceClock(15);
    await h.run();
    expect(await t.current6()).toBe('isp1');
    expect(await h.currentGateway()).toBe('isp1'); // IPv4 never moved
    expect((await t.calls()).filter((call) => call[0] === '4')).toHaveLength(1);
  });

  it('IPv4 broken on the primary while its IPv6 works: only IPv4 moves', async () => {
    const t = suite();
    const { h, net } = t;
    await net.failOperator(1, { family: 4 });
    await h.run();
    expect(await h.currentGateway()).toBe('isp2');
    expect(await t.current6()).toBe('isp1');
    const last = (await t.calls()).at(-1)!;
    expect(last.slice(0, 3)).toEqual(['4', 'switch', 'isp2']);
    await net.restoreOperator(1, { family: 4 });
  });

  it('history keeps the families apart', async () => {
    const t = suite();
    const doc = JSON.parse((await t.h.netgwm(['history', '--json'])).stdout) as {
      entries: Array<{ kind: string; family: number; from: string | null; to: string }>;
    };
    const switches = doc.entries.filter((entry) => entry.kind === 'switch').map((entry) => `${entry.family} ${entry.from}->${entry.to}`);
    expect(switches.filter((entry) => entry.startsWith('6 '))).toEqual(['6 null->isp1', '6 isp1->isp2', '6 isp2->isp1']);
    expect(switches.filter((entry) => entry.startsWith('4 '))).toEqual(['4 null->isp1', '4 isp1->isp2']);
  });
});

describe('a link-local gateway, an IPv6-only uplink and the RA default', () => {
  const suite = dualStackSuite((net) => {
    const [one, two, three] = net.uplinks;
    return {
      gateways: {
        isp1: { ip: one!.gatewayIp, ip6: one!.gatewayIp6, priority: 1 },
        // Reached by its link-local address only, as many ISPs' routers are.
        isp2: { ip: two!.gatewayIp, ip6: two!.gatewayLinkLocal, dev: two!.routerDev, priority: 2 },
        // IPv6 only: no IPv4 decision ever sees it.
        isp3: { ip6: three!.gatewayIp6, dev: three!.routerDev, priority: 3 },
      },
      check_sites: [...net.sites, ...net.sites6],
      check_all_gateways: true,
      min_uptime: 0,
    };
  });

  it('the IPv6-only uplink has no IPv4 row and no IPv4 switch', async () => {
    const t = suite();
    expect((await t.h.run()).exitCode).toBe(0);
    const doc = JSON.parse((await t.h.netgwm(['status', '--json'])).stdout) as { gateways: Array<{ name: string; family: number }> };
    expect(doc.gateways.map((row) => `${row.name}/${row.family}`)).toEqual(['isp1/4', 'isp2/4', 'isp1/6', 'isp2/6', 'isp3/6']);
    await t.net.failOperator(1, { family: 4 });
    await t.net.failOperator(2, { family: 4 });
    await t.h.run();
    expect(await t.h.currentGateway()).toBe('isp1'); // all IPv4 down: the route stays, isp3 is no IPv4 gateway
    await t.net.restoreOperator(1, { family: 4 });
    await t.net.restoreOperator(2, { family: 4 });
  });

  it('fails IPv6 over to the link-local gateway, then to the IPv6-only uplink', async () => {
    const t = suite();
    const { h, net } = t;
    const [, two, three] = net.uplinks;
    await h.run();
    expect(await t.current6()).toBe('isp1');
    await net.failOperator(1, { family: 6 });
    await h.run();
    expect(await t.current6()).toBe('isp2');
    expect((await t.route6()).find((route) => route.dev === two!.routerDev)).toMatchObject({ gateway: two!.gatewayLinkLocal, metric: 512 });
    await net.failOperator(2, { family: 6 });
    await h.run();
    expect(await t.current6()).toBe('isp3');
    expect((await t.calls()).at(-1)).toEqual([
      '6',
      'switch',
      'isp3',
      three!.gatewayIp6,
      three!.routerDev,
      'isp2',
      two!.gatewayLinkLocal,
      two!.routerDev,
    ]);
    expect(await h.currentGateway()).toBe('isp1');
    for (const i of [1, 2]) await net.restoreOperator(i, { family: 6 });
    await h.run();
    expect(await t.current6()).toBe('isp1');
  });

  it("leaves the kernel's router-advertisement default alone, behind its own route", async () => {
    const t = suite();
    const { h, net } = t;
    const [, two] = net.uplinks;
    // What the kernel installs from an RA with accept_ra=2 (no radvd needed to test the routing side).
    const ra = ['default', 'via', two!.gatewayLinkLocal, 'dev', two!.routerDev, 'proto', 'ra', 'metric', '1024'];
    await net.exec(net.routerNs, 'ip', ['-6', 'route', 'add', ...ra]);
    for (let run = 0; run < 2; run++) expect((await h.run()).exitCode).toBe(0);
    const routes = await t.route6();
    expect(routes.find((route) => route.protocol === 'ra')).toMatchObject({
      gateway: two!.gatewayLinkLocal,
      dev: two!.routerDev,
      metric: 1024,
    });
    expect(await t.current6()).toBe('isp1'); // netgwm's own, at 512, is the one used
    expect((await h.logLines()).join('\n')).not.toMatch(/did not set/);
  });
});

describe('ip6: auto takes the router advertisement gateway', () => {
  const suite = dualStackSuite((net) => {
    const [one, two] = net.uplinks;
    return {
      gateways: {
        isp1: { ip: one!.gatewayIp, ip6: one!.gatewayIp6, priority: 1 },
        isp2: { ip: two!.gatewayIp, ip6: 'auto', dev: two!.routerDev, priority: 2 },
      },
      check_sites: [...net.sites, ...net.sites6],
      check_all_gateways: true,
      min_uptime: 0,
    };
  });

  it('says which sysctl is missing while there is no RA default, then follows the RA next hop without removing it', async () => {
    const t = suite();
    const { h, net } = t;
    const [, two] = net.uplinks;
    await h.run();
    expect((await h.logLines()).join('\n')).toMatch(/IPv6: gateway isp2 \(ip6: auto\) has no address in the kernel.*accept_ra=2/);
    await net.exec(net.routerNs, 'ip', [
      '-6',
      'route',
      'add',
      'default',
      'via',
      two!.gatewayLinkLocal,
      'dev',
      two!.routerDev,
      'proto',
      'ra',
      'metric',
      '1024',
    ]);
    await net.failOperator(1, { family: 6 });
    await h.run();
    expect(await t.current6()).toBe('isp2');
    const routes = await t.route6();
    expect(
      routes
        .filter((route) => route.dev === two!.routerDev)
        .map((route) => [route.gateway, route.metric, route.protocol])
        .sort(),
    ).toEqual(
      [
        [two!.gatewayLinkLocal, 1024, 'ra'],
        [two!.gatewayLinkLocal, 512, expect.anything()],
      ].sort(),
    );
    await net.restoreOperator(1, { family: 6 });
  });
});

describe('the daemon watches both families', () => {
  const suite = dualStackSuite((net) => ({
    gateways: dualGateways(net),
    check_sites: [...net.sites, ...net.sites6],
    min_uptime: 0,
  }));

  it('moves IPv6 alone when the primary stops answering over IPv6', async () => {
    const t = suite();
    const { h, net } = t;
    const daemon = h.daemon(['--interval', '30']);
    try {
      expect(await waitFor(async () => (await t!.current6()) === 'isp1' && (await h.currentGateway()) === 'isp1')).toBe(true);
      await net.failOperator(1, { family: 6 });
      expect(await waitFor(async () => (await t!.current6()) === 'isp2')).toBe(true);
      expect(await h.currentGateway()).toBe('isp1');
      expect((await h.logLines()).join('\n')).toMatch(/WARN IPv6: gateway isp1 down/);
    } finally {
      daemon.kill('SIGTERM');
      await daemon;
      await net.restoreOperator(1, { family: 6 });
    }
  });
});

describe('marks, fwmark rules and flushes per family (nftables, a table per uplink)', () => {
  const suite = dualStackSuite((net) => ({
    gateways: dualGateways(net, (uplink) => ({ dev: uplink.routerDev, mark: uplink.index, table: 100 + uplink.index })),
    check_sites: [...net.sites, ...net.sites6],
    check_all_gateways: true,
    min_uptime: 0,
    nftables: {},
    conntrack: { flush: 'all' },
  }));

  it('each family has its fwmark rules and its active mark; an IPv6 switch flushes IPv6 flows only', async () => {
    const t = suite();
    const { h, net } = t;
    expect((await h.run()).exitCode).toBe(0);
    for (const family of ['-4', '-6']) {
      const rules = (await net.exec(net.routerNs, 'ip', [family, 'rule', 'list'])).stdout;
      for (const i of [1, 2, 3]) expect(rules).toContain(`1101:\tfrom all fwmark 0x${i}/0xff lookup ${100 + i}`);
    }
    expect(await activeMarks(h.net)).toEqual([
      { comment: 'active isp1: new IPv4 forwarded connections', mark: 1 },
      { comment: 'active isp1: new IPv6 forwarded connections', mark: 1 },
      { comment: 'active isp1: new IPv4 local connections', mark: 1 },
      { comment: 'active isp1: new IPv6 local connections', mark: 1 },
    ]);
    const before = (await h.logLines()).length;
    await net.failOperator(1, { family: 6 });
    await h.run();
    expect(await t.current6()).toBe('isp2');
    expect(await activeMarks(h.net)).toEqual([
      { comment: 'active isp1: new IPv4 forwarded connections', mark: 1 },
      { comment: 'active isp2: new IPv6 forwarded connections', mark: 2 },
      { comment: 'active isp1: new IPv4 local connections', mark: 1 },
      { comment: 'active isp2: new IPv6 local connections', mark: 2 },
    ]);
    const switchLines = (await h.logLines()).slice(before).join('\n');
    expect(switchLines).toMatch(/INFO IPv6: conntrack: deleted \d+ flow entries \(flush: all, conntrack -D -f ipv6\)/);
    expect(switchLines).not.toMatch(/conntrack -D -f ipv4/);
    await net.restoreOperator(1, { family: 6 });
  });
});
