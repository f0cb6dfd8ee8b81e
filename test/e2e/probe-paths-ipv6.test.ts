// IPv6 probe paths on a real dual-stack namespace network, below the cycle: a family-6 view of a
// config (built here by hand: gateways with `family: 6`) gets `ip -6` probe rules and tables;
// ICMPv6 echoes carrying gateway i's mark leave through uplink i only (counted by nft in each
// operator), for one-shot probes (net-ping and ping(8)) and the continuous rounds alike; unmarked
// traffic follows the main table; a link-local gateway works; a flushed table is repaired; removal
// leaves nothing behind.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestNetwork } from '../../scripts/testnet/network.js';
import { probePorts } from '../../src/config/probe-paths.js';
import type { Gateway } from '../../src/core/types.js';
import { createSystemPing } from '../../src/probe/system-ping.js';
import { createExec, type Exec } from '../../src/system/exec.js';
import { removeProbePaths, syncProbePaths } from '../../src/system/probe-paths.js';
import { IPV6_DEFAULT_METRIC, ownDefaultRoute, readDefaultRoutes, replaceDefaultRoute } from '../../src/system/routes.js';
import { Harness } from './harness.js';
import { type EchoerJob, type EchoerOutcome, pingInNamespace, runFixture } from './probe/fixtures/child.js';

const MARK = 0x4e470000;
const CHECK_TABLE = 194;
const COUNTERS = 'ngwtest_count';

let net: TestNetwork;
let gateways: Gateway[];
let config: Parameters<typeof syncProbePaths>[1];
const routerExec: Exec = (file, args, options) => createExec()('ip', ['netns', 'exec', net.routerNs, file, ...args], options);
const routerIp = async (...args: string[]) => (await net.exec(net.routerNs, 'ip', args)).stdout;

/** isp1 by its link-local address (fe80::1 on wan_1), the others by their global one. */
function ipv6Gateways(): Gateway[] {
  return net.uplinks.map((uplink) => ({
    name: `isp${uplink.index}`,
    ip: uplink.index === 1 ? uplink.gatewayLinkLocal! : uplink.gatewayIp6!,
    dev: uplink.routerDev,
    priority: uplink.index,
    probe: { mark: MARK + uplink.index, table: CHECK_TABLE + uplink.index, ports: probePorts(61000, uplink.index) },
    family: 6,
  }));
}

/** An nft counter of ICMPv6 echo requests forwarded by every operator (before its own drop rules). */
async function installCounters(): Promise<void> {
  const commands = [
    `add table inet ${COUNTERS}`,
    `add chain inet ${COUNTERS} forward { type filter hook forward priority -10 ; policy accept ; }`,
    `add rule inet ${COUNTERS} forward icmpv6 type echo-request counter`,
  ];
  for (const uplink of net.uplinks) await net.exec(uplink.operatorNs, 'nft', ['-f', '-'], { input: `${commands.join('\n')}\n` });
}

/** Echo requests each operator has forwarded so far, by uplink index order. */
async function echoesSeen(): Promise<number[]> {
  return Promise.all(
    net.uplinks.map(async (uplink) => {
      const { stdout } = await net.exec(uplink.operatorNs, 'nft', ['-j', 'list', 'chain', 'inet', COUNTERS, 'forward']);
      const rules = (JSON.parse(stdout) as { nftables: Array<{ rule?: { expr: Array<{ counter?: { packets: number } }> } }> }).nftables;
      return rules.flatMap((entry) => entry.rule?.expr ?? []).find((expr) => expr.counter)?.counter?.packets ?? 0;
    }),
  );
}

/** What `work` made each operator forward. */
async function echoesDuring(work: () => Promise<unknown>): Promise<number[]> {
  const before = await echoesSeen();
  await work();
  return (await echoesSeen()).map((count, index) => count - before[index]!);
}

/** netgwm's IPv6 probe rules and the routes of its probe tables, as `ip -6` prints them. */
async function probePaths6(): Promise<string[]> {
  const tables = net.uplinks.map((uplink) => CHECK_TABLE + uplink.index);
  const ours = new RegExp(`(lookup|table) (${tables.join('|')})\\b`);
  const text = `${await routerIp('-6', 'rule', 'list')}\n${await routerIp('-6', 'route', 'show', 'table', 'all')}`;
  return text
    .split('\n')
    .filter((line) => ours.test(line))
    .map((line) => line.trim())
    .sort();
}

function expectedProbePaths6(): string[] {
  return gateways
    .flatMap((gateway) => [
      `1000:\tfrom all fwmark 0x${gateway.probe.mark.toString(16)} lookup ${gateway.probe.table}`,
      `default via ${gateway.ip} dev ${gateway.dev} table ${gateway.probe.table} metric 1024 pref medium`,
      `unreachable default dev lo table ${gateway.probe.table} metric 4294967294 pref medium`,
    ])
    .sort();
}

beforeAll(async () => {
  net = await TestNetwork.create({ uplinks: 3, sites: 2, ipv6: true });
  gateways = ipv6Gateways();
  config = { family: 6, gateways, check_table_id: CHECK_TABLE, probe: { mark: MARK, rule_pref: 1000 } } as typeof config;
  await installCounters();
});
afterAll(async () => {
  await net?.destroy();
});

describe('IPv6 probe paths (3 uplinks, isp1 link-local)', () => {
  it('are installed with ip -6 in one batch, found in place by the next sync, and leave IPv4 alone', async () => {
    const first = await syncProbePaths(routerExec, config);
    expect(first.unreachable).toEqual({});
    expect(first.devices).toEqual({ isp1: 'wan_1', isp2: 'wan-2', isp3: 'wan.3' });
    expect(await probePaths6()).toEqual(expectedProbePaths6());
    expect(await syncProbePaths(routerExec, config)).toMatchObject({ repaired: [], tablesRepaired: [] });
    expect(await routerIp('-4', 'rule', 'list')).not.toMatch(/fwmark/);
  });

  it('one-shot ICMPv6 probes (net-ping) with gateway i mark leave through uplink i only, link-local gateway included', async () => {
    await syncProbePaths(routerExec, config);
    const site = net.sites6[0]!;
    for (const gateway of gateways) {
      let outcome: Awaited<ReturnType<typeof pingInNamespace>> = [];
      const seen = await echoesDuring(async () => {
        outcome = await pingInNamespace(net.routerNs, [{ address: site, count: 3, timeoutMs: 2000, mark: gateway.probe.mark }]);
      });
      expect(outcome[0]?.result, gateway.name).toMatchObject({ answered: true, replies: 3, sent: 3 });
      expect(seen, gateway.name).toEqual(net.uplinks.map((uplink) => (`isp${uplink.index}` === gateway.name ? 3 : 0)));
    }
  });

  it('one-shot probes with ping(8) (probe.method: ping) take the same paths', async () => {
    const ping = createSystemPing(routerExec);
    const seen = await echoesDuring(async () => {
      const result = await ping(net.sites6[1]!, { count: 2, timeoutMs: 2000, mark: gateways[1]!.probe.mark });
      expect(result).toMatchObject({ answered: true, replies: 2, sent: 2 });
    });
    expect(seen).toEqual([0, 2, 0]);
  });

  it('a dead operator fails only its own gateway probes', async () => {
    await net.failOperator(2, { family: 6 });
    try {
      const jobs = gateways.map((gateway) => ({ address: net.sites6[0]!, count: 2, timeoutMs: 1000, mark: gateway.probe.mark }));
      const outcomes = await pingInNamespace(net.routerNs, jobs);
      expect(outcomes.map((outcome) => outcome.result.answered)).toEqual([true, false, true]);
    } finally {
      await net.restoreOperator(2);
    }
  });

  it('unmarked ICMPv6 from the router follows the main table (netgwm v6 default at its metric), never a probe table', async () => {
    await syncProbePaths(routerExec, config);
    // An RA-installed default via isp2, which netgwm's route must sit in front of.
    await routerIp('-6', 'route', 'add', 'default', 'via', 'fe80::1', 'dev', 'wan-2', 'proto', 'ra', 'metric', '1024');
    const route = await replaceDefaultRoute(routerExec, gateways[2]!);
    expect(route).toMatchObject({ gateway: '2001:db8:0:3::1', dev: 'wan.3', metric: IPV6_DEFAULT_METRIC });
    const routes = await readDefaultRoutes(routerExec, 6);
    expect(routes.map((entry) => [entry.gateway, entry.dev, entry.metric])).toEqual([
      ['2001:db8:0:3::1', 'wan.3', IPV6_DEFAULT_METRIC],
      ['fe80::1', 'wan-2', 1024],
    ]);
    expect(ownDefaultRoute(routes, gateways)).toEqual({ route: routes[0] });

    const site = net.sites6[0]!;
    expect(await echoesDuring(() => net.ping(net.routerNs, site))).toEqual([0, 0, 1]);
    expect(await echoesDuring(() => pingInNamespace(net.routerNs, [{ address: site, count: 2, timeoutMs: 2000 }]))).toEqual([0, 0, 2]);
    // isp3 dead: unmarked traffic does not escape through a probe table; marked isp1 still works.
    await net.failOperator(3, { family: 6 });
    try {
      expect(await net.ping(net.routerNs, site)).toBe(false);
      const [marked] = await pingInNamespace(net.routerNs, [{ address: site, count: 1, timeoutMs: 2000, mark: gateways[0]!.probe.mark }]);
      expect(marked?.result.answered).toBe(true);
    } finally {
      await net.restoreOperator(3);
      await routerIp('-6', 'route', 'del', 'default', 'proto', 'ra', 'dev', 'wan-2');
    }
  });

  it('replaceDefaultRoute switches the IPv6 default in place (global and link-local next hops): one netgwm route at its metric', async () => {
    for (const gateway of [gateways[1]!, gateways[0]!, gateways[2]!]) {
      const route = await replaceDefaultRoute(routerExec, gateway);
      expect(route).toMatchObject({ gateway: gateway.ip, dev: gateway.dev, metric: IPV6_DEFAULT_METRIC });
      expect(await readDefaultRoutes(routerExec, 6)).toEqual([route]);
      expect(await echoesDuring(() => net.ping(net.routerNs, net.sites6[1]!))).toEqual(
        gateways.map((other) => (other === gateway ? 1 : 0)),
      );
    }
  });

  it('continuous rounds (native ICMPv6 and ping(8)) go out through their gateway only', async () => {
    await syncProbePaths(routerExec, config);
    for (const method of ['icmp', 'ping'] as const) {
      const job: EchoerJob = {
        method,
        targets: net.sites6.map((site) => ({ gateway: 'isp3', site, address: site, mark: gateways[2]!.probe.mark })),
        intervalMs: 100,
        timeoutMs: 2000,
        rounds: 3,
        watchdogMs: 30_000, // a hang guard: 3 rounds take about 0.3 s
      };
      let outcome: EchoerOutcome | undefined;
      const seen = await echoesDuring(async () => {
        outcome = await runFixture<EchoerOutcome>(net.routerNs, 'echoer.ts', job, { hardTimeoutMs: 60_000 });
      });
      expect(outcome?.complete, method).toBe(true);
      const rounds = outcome?.rounds.isp3 ?? [];
      expect(rounds.length, method).toBeGreaterThanOrEqual(3);
      for (const round of rounds.slice(0, 3))
        expect(
          round.echoes.every((echo) => echo.answered),
          method,
        ).toBe(true);
      expect(seen[0], method).toBe(0);
      expect(seen[1], method).toBe(0);
      expect(seen[2], method).toBeGreaterThanOrEqual(6);
    }
  });

  it('a probe table flushed behind netgwm back is repaired by the next sync', async () => {
    await syncProbePaths(routerExec, config);
    await routerIp('-6', 'route', 'flush', 'table', String(gateways[1]!.probe.table));
    expect(await probePaths6()).not.toEqual(expectedProbePaths6());
    const report = await syncProbePaths(routerExec, config);
    expect(report.repaired).toEqual([
      'ip -6 route add unreachable default metric 4294967294 table 196',
      'ip -6 route add default via 2001:db8:0:2::1 dev wan-2 table 196',
    ]);
    expect(await probePaths6()).toEqual(expectedProbePaths6());
  });

  it('a gateway whose link went down: its marked probes meet the guard, never the main table route', async () => {
    await syncProbePaths(routerExec, config);
    await replaceDefaultRoute(routerExec, gateways[2]!);
    await net.setUplinkLink(2, false);
    try {
      const report = await syncProbePaths(routerExec, config);
      expect(report.unreachable.isp2).toMatch(/^no route via 2001:db8:0:2::1 dev wan-2: /);
      const mark = gateways[1]!.probe.mark;
      let outcome: Awaited<ReturnType<typeof pingInNamespace>> = [];
      const seen = await echoesDuring(async () => {
        outcome = await pingInNamespace(net.routerNs, [{ address: net.sites6[0]!, count: 2, timeoutMs: 1000, mark }]);
      });
      expect(outcome[0]?.result).toMatchObject({ answered: false, sent: 0 });
      expect(seen).toEqual([0, 0, 0]);
    } finally {
      await net.setUplinkLink(2, true);
    }
    await syncProbePaths(routerExec, config);
    expect(await probePaths6()).toEqual(expectedProbePaths6());
  });

  it('an IPv6 uplink table is filled (default, the link subnets with fe80::/64), repaired when flushed, emptied when no gateway wants it', async () => {
    const withTable = {
      ...config,
      gateways: gateways.map((gateway) => (gateway.name === 'isp2' ? { ...gateway, table: 102, table_id: 102 } : gateway)),
    };
    const table = async () => (await routerIp('-6', 'route', 'show', 'table', '102')).trim().split('\n').filter(Boolean).sort();
    const wanted = [
      '2001:db8:0:2::/64 dev wan-2 proto 194 metric 1024 pref medium',
      'default via 2001:db8:0:2::1 dev wan-2 proto 194 metric 1024 pref medium',
      'fe80::/64 dev wan-2 proto 194 metric 1024 pref medium',
    ];
    expect((await syncProbePaths(routerExec, withTable)).tablesRepaired).toHaveLength(3);
    expect(await table()).toEqual(wanted);
    expect(await syncProbePaths(routerExec, withTable)).toMatchObject({ repaired: [], tablesRepaired: [], tablesFailed: [] });
    // Traffic sent to the table (as a fwmark rule of netgwm's would) leaves through uplink 2.
    await routerIp('-6', 'rule', 'add', 'fwmark', '0x99', 'lookup', '102', 'pref', '2000');
    try {
      const seen = await echoesDuring(() =>
        pingInNamespace(net.routerNs, [{ address: net.sites6[0]!, count: 1, timeoutMs: 2000, mark: 0x99 }]),
      );
      expect(seen).toEqual([0, 1, 0]);
    } finally {
      await routerIp('-6', 'rule', 'del', 'pref', '2000');
    }
    await routerIp('-6', 'route', 'flush', 'table', '102');
    expect((await syncProbePaths(routerExec, withTable)).tablesRepaired).toEqual([
      'ip -6 route replace default via 2001:db8:0:2::1 dev wan-2 proto 194 table 102',
      'ip -6 route replace 2001:db8:0:2::/64 dev wan-2 proto 194 scope link table 102',
      'ip -6 route replace fe80::/64 dev wan-2 proto 194 scope link table 102',
    ]);
    expect(await table()).toEqual(wanted);
    expect((await syncProbePaths(routerExec, config)).tablesRepaired).toHaveLength(3);
    expect(await table()).toEqual([]);
  });

  it('removeProbePaths leaves no IPv6 rule or route of netgwm, and no IPv4 one appears', async () => {
    await syncProbePaths(routerExec, config);
    const removed = await removeProbePaths(routerExec, config);
    expect(removed).toHaveLength(6);
    expect(await probePaths6()).toEqual([]);
    expect(await routerIp('-6', 'rule', 'list')).not.toMatch(/fwmark/);
    expect(await routerIp('-4', 'rule', 'list')).not.toMatch(/fwmark/);
    expect(await removeProbePaths(routerExec, config)).toEqual([]);
  });
});

describe('netgwm cleanup on a dual-stack router', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.create({ uplinks: 2, sites: 1, ipv6: true });
  });
  afterAll(async () => {
    await h?.destroy();
  });

  it('removes the IPv6 probe paths too, although the config (IPv4 only) has no IPv6 gateway any more', async () => {
    const exec: Exec = (file, args, options) => createExec()('ip', ['netns', 'exec', h.net.routerNs, file, ...args], options);
    const view = {
      family: 6,
      gateways: h.net.uplinks.map((uplink) => ({
        name: `isp${uplink.index}`,
        ip: uplink.gatewayIp6!,
        priority: uplink.index,
        probe: { mark: MARK + uplink.index, table: CHECK_TABLE + uplink.index, ports: probePorts(61000, uplink.index) },
        family: 6,
      })),
      check_table_id: CHECK_TABLE,
      probe: { mark: MARK, rule_pref: 1000 },
    } as Parameters<typeof syncProbePaths>[1];
    expect(await h.run()).toMatchObject({ exitCode: 0, stderr: '' });
    await syncProbePaths(exec, view);
    expect(await h.probePathsInPlace(6)).toBe(true);
    expect(await h.probePathsInPlace(4)).toBe(true);

    const cleanup = await h.netgwm(['cleanup']);
    expect(cleanup).toMatchObject({ exitCode: 0, stderr: '' });
    expect(cleanup.stdout).toContain('ip rule del pref 1000 fwmark 0x4e470001 lookup 195');
    expect(cleanup.stdout).toContain('ip -6 rule del pref 1000 fwmark 0x4e470001 lookup 195');
    expect(cleanup.stdout).toContain('ip -6 route flush table 196');
    expect(await h.probePaths(6)).toEqual([]);
    expect(await h.probePaths(4)).toEqual([]);
    expect(await h.netgwm(['cleanup'])).toMatchObject({ exitCode: 0, stdout: 'no probe path was installed', stderr: '' });
  });
});
