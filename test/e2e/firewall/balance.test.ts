// Weighted balancing, policy rules and sticky sources on the namespace network: isp1 and isp2
// form a 3:1 tier (priority 1), isp3 is the failover tier. Which uplink a LAN flow really took
// is counted where it arrives: in the operators' namespaces (nft counters there).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Harness, waitFor } from '../harness.js';
import {
  addUplinkTables,
  lanConnects,
  lanPortCounts,
  lanUdpCounts,
  lanUdpFlows,
  logSince,
  markedGateways,
  routerFlows,
  startTcp,
  watchLanPorts,
  watchLanUdp,
  type Endpoint,
} from './support.js';

const FLOWS = 10_000;
const SPREAD_PORTS = 20_000; // 20000-29999: the 10,000 flows of the spread
const AFTER_FAIL_PORTS = 31_000; // 31000-31999: new flows while isp2 is down
const STICKY_PORTS = 33_000; // 33000-33199
const LONG_FLOW_PORT = 5001;
const RULE_PORT = 5002;

describe('balanced tier 3:1 over isp1 and isp2, isp3 as failover (flush: all)', () => {
  let h: Harness;
  let server: Endpoint | undefined;
  let stream: Endpoint | undefined;
  const site = () => h.net.sites[0]!;
  const metricsFile = () => join(h.dir, 'netgwm.prom');

  const tierConfig = (extra: { sticky?: number; rules?: unknown[]; min_uptime?: number } = {}) => {
    const gateways = markedGateways(h.net, { tables: true }) as Record<string, Record<string, unknown>>;
    const sticky = extra.sticky === undefined ? {} : { sticky: extra.sticky };
    gateways.isp1 = { ...gateways.isp1, priority: 1, weight: 3, ...sticky };
    gateways.isp2 = { ...gateways.isp2, priority: 1, weight: 1, ...sticky };
    return {
      gateways,
      min_uptime: extra.min_uptime ?? 0,
      nftables: {},
      conntrack: { flush: 'all' },
      // A healthy uplink must never look down on a loaded machine (other tests run beside these).
      probe: { timeout: 2 },
      ...(extra.rules ? { rules: extra.rules } : {}),
    };
  };

  beforeAll(async () => {
    h = await Harness.create();
    await addUplinkTables(h.net);
    await h.writeConfig(tierConfig());
    await watchLanPorts(h.net, [LONG_FLOW_PORT, RULE_PORT]);
    for (const low of [SPREAD_PORTS, AFTER_FAIL_PORTS, STICKY_PORTS])
      await watchLanUdp(h.net, low, low + 999 + (low === SPREAD_PORTS ? 9000 : 0));
    server = await startTcp(h.net, h.net.netNs, ['server', site(), [LONG_FLOW_PORT, RULE_PORT].join(','), '170000']);
  }, 60_000);
  afterAll(async () => {
    for (const endpoint of [stream, server]) endpoint?.process.kill('SIGKILL');
    await h?.destroy();
  });

  it('loads a table that draws new connections 3:1 over the two marks; nft --print shows it', async () => {
    expect(server!.firstLine).toBe('listening');
    expect(await h.run()).toMatchObject({ exitCode: 0, stderr: '' });
    expect(await h.currentGateway()).toBe('isp1');
    const table = (await h.net.exec(h.net.routerNs, 'nft', ['list', 'chain', 'inet', 'netgwm', 'tier_1'])).stdout;
    expect(table).toContain('numgen random mod 4 vmap { 0-2 : goto gw_1, 3 : goto gw_2 }');
    expect(await logSince(h, 0, /shares:|nftables: loaded/)).toEqual([
      'INFO nftables: loaded table inet netgwm; new connections get default tier 1: isp1 75 %, isp2 25 %',
      'INFO shares: default tier 1: isp1 75 %, isp2 25 %; joined: isp1, isp2',
    ]);
    const printed = await h.netgwm(['nft', '--print']);
    expect(printed.stdout).toContain('# new connections: default tier 1: isp1 75 %, isp2 25 %');
    expect((await h.net.exec(h.net.routerNs, 'nft', ['-c', '-f', '-'], { input: `${printed.stdout}\n`, reject: false })).exitCode).toBe(0);
  });

  it(`${FLOWS} new UDP flows from a LAN host land within ±5 % of 75/25 at the operators`, async () => {
    expect(await lanUdpFlows(h.net, h.net.deadSite, SPREAD_PORTS, FLOWS)).toBe(`sent ${FLOWS}`);
    let counts: Record<string, number> = {};
    // The last datagrams may still be on their way through the namespaces.
    await waitFor(async () => {
      counts = await lanUdpCounts(h.net, SPREAD_PORTS);
      return counts.isp1! + counts.isp2! >= FLOWS;
    }, 10_000);
    const total = counts.isp1! + counts.isp2!;
    expect(total).toBeGreaterThanOrEqual(FLOWS * 0.99); // nothing lost on the way, or hardly
    expect(counts.isp3).toBe(0);
    expect(counts.isp1! / total).toBeGreaterThanOrEqual(0.7);
    expect(counts.isp1! / total).toBeLessThanOrEqual(0.8);
    process.stdout.write(
      `balance spread: isp1 ${counts.isp1}, isp2 ${counts.isp2} of ${total} (${((counts.isp1! / total) * 100).toFixed(1)} %)\n`,
    );
  });

  it('status shows the tier and its shares; the metrics count connections per mark', async () => {
    const status = await h.netgwm(['status']);
    expect(status.stdout.split('\n')).toContain('Tier 1 (default): isp1 75 % up, isp2 25 % up');
    const json = JSON.parse((await h.netgwm(['status', '--json'])).stdout) as { tiers: unknown[] };
    expect(json.tiers).toEqual([
      {
        priority: 1,
        default: true,
        members: [
          { name: 'isp1', weight: 3, share: 0.75, in_share: true, state: 'up' },
          { name: 'isp2', weight: 1, share: 0.25, in_share: true, state: 'up' },
        ],
      },
    ]);
    await h.writeConfig({ ...tierConfig(), metrics_file: metricsFile() });
    expect(await h.run()).toMatchObject({ exitCode: 0, stderr: '' });
    const metrics = await readFile(metricsFile(), 'utf8');
    expect(metrics).toContain('netgwm_gateway_weight{gateway="isp1",family="4"} 3');
    expect(metrics).toContain('netgwm_gateway_share_ratio{gateway="isp2",family="4"} 0.25');
    const count = (gateway: string) => Number(new RegExp(`netgwm_gateway_connections\\{gateway="${gateway}"\\} (\\d+)`).exec(metrics)?.[1]);
    // The spread's flows are still tracked (UDP, 30 s): thousands on isp1, fewer on isp2.
    expect(count('isp1')).toBeGreaterThan(count('isp2'));
    expect(count('isp2')).toBeGreaterThan(1000);
    await h.writeConfig(tierConfig());
  });

  it("a member failing moves its share to the other at once; a long TCP flow on the other keeps running; only the failed member's flows are flushed", async () => {
    // A long flow that the draw gave isp1 (75 % each time; 10 tries).
    let streamPort = 0;
    for (let attempt = 0; attempt < 10 && streamPort === 0; attempt++) {
      stream = await startTcp(h.net, h.net.lanNs, ['stream', site(), String(LONG_FLOW_PORT), '120000']);
      expect(stream.firstLine).toMatch(/^connected \d+$/);
      const port = Number(stream.firstLine.split(' ')[1]);
      if ((await routerFlows(h.net)).find((flow) => flow.sport === port)?.mark === 1) streamPort = port;
      else stream.process.kill('SIGKILL');
    }
    expect(streamPort).toBeGreaterThan(0);
    const isp2Flows = (await routerFlows(h.net)).filter((flow) => flow.mark === 2).length;
    expect(isp2Flows).toBeGreaterThan(0); // the spread's UDP flows

    const logFrom = (await h.logLines()).length;
    await h.net.failOperator(2);
    try {
      expect(await h.run()).toMatchObject({ exitCode: 0 });
      expect(await h.currentGateway()).toBe('isp1'); // the route did not move
      expect(await logSince(h, logFrom, /shares:|conntrack:|gateway isp2/)).toEqual([
        expect.stringMatching(/^WARN gateway isp2 down/),
        'INFO shares: default isp1; left: isp2 (its new connections go elsewhere)',
        `INFO conntrack: deleted ${isp2Flows} flow entries of isp2 (flush: all, conntrack -D --mark 0x2/0xff)`,
      ]);
      expect((await routerFlows(h.net)).filter((flow) => flow.mark === 2)).toEqual([]);
      expect((await routerFlows(h.net)).find((flow) => flow.sport === streamPort)).toMatchObject({ mark: 1, dport: LONG_FLOW_PORT });

      // New flows all go to isp1 now.
      expect(await lanUdpFlows(h.net, h.net.deadSite, AFTER_FAIL_PORTS, 1000)).toBe('sent 1000');
      let counts: Record<string, number> = {};
      await waitFor(async () => {
        counts = await lanUdpCounts(h.net, AFTER_FAIL_PORTS);
        return counts.isp1! >= 990;
      }, 10_000);
      expect(counts.isp1).toBeGreaterThanOrEqual(990);
      expect([counts.isp2, counts.isp3]).toEqual([0, 0]);

      // The long flow still runs, still through operator 1.
      const before = (await lanPortCounts(h.net)).isp1![LONG_FLOW_PORT]!;
      expect(await waitFor(async () => (await lanPortCounts(h.net)).isp1![LONG_FLOW_PORT]! - before >= 5)).toBe(true);
      expect(stream!.process.exitCode).toBeNull();
    } finally {
      await h.net.restoreOperator(2);
    }
  });

  it('back up, the member rejoins only once it is stable (min_uptime, on the test clock)', async () => {
    await h.writeConfig(tierConfig({ min_uptime: 60 }));
    expect(await h.run()).toMatchObject({ exitCode: 0 });
    const shares = async () => (await h.net.exec(h.net.routerNs, 'nft', ['list', 'chain', 'inet', 'netgwm', 'choose'])).stdout;
    expect(await shares()).toContain('goto gw_1 comment "default: isp1"');
    h.advanceClock(61);
    expect(await h.run()).toMatchObject({ exitCode: 0 });
    expect(await shares()).toContain('goto tier_1 comment "default: tier 1"');
    await h.writeConfig(tierConfig());
    stream?.process.kill('SIGKILL');
  });

  it('a rule sends one port to one uplink, whatever the draw', async () => {
    await h.writeConfig(tierConfig({ rules: [{ proto: 'tcp', dport: RULE_PORT, use: 'isp3' }] }));
    expect(await h.run()).toMatchObject({ exitCode: 0, stderr: '' });
    for (let i = 0; i < 8; i++) expect(await lanConnects(h.net, RULE_PORT)).toBe(true);
    const counts = await lanPortCounts(h.net);
    expect([counts.isp1![RULE_PORT], counts.isp2![RULE_PORT]]).toEqual([0, 0]);
    expect(counts.isp3![RULE_PORT]).toBeGreaterThanOrEqual(8 * 3); // SYN, ACK, data… of each
    expect((await routerFlows(h.net)).filter((flow) => flow.dport === RULE_PORT).map((flow) => flow.mark)).toEqual(Array(8).fill(3));
  });

  it('sticky keeps a LAN source on one uplink', async () => {
    await h.writeConfig(tierConfig({ sticky: 600 }));
    expect(await h.run()).toMatchObject({ exitCode: 0, stderr: '' });
    expect(await lanUdpFlows(h.net, h.net.deadSite, STICKY_PORTS, 200)).toBe('sent 200');
    let counts: Record<string, number> = {};
    await waitFor(async () => {
      counts = await lanUdpCounts(h.net, STICKY_PORTS);
      return counts.isp1! + counts.isp2! >= 200;
    }, 10_000);
    // All 200 through one uplink (by chance alone: 0.75^199 + 0.25^199).
    expect([counts.isp1, counts.isp2].sort()).toEqual([0, 200]);
    const member = counts.isp1 === 200 ? 1 : 2;
    const set = (await h.net.exec(h.net.routerNs, 'nft', ['list', 'set', 'inet', 'netgwm', `sticky_${member}`])).stdout;
    expect(set).toContain(h.net.lanHostIp);

    // A new table (here: a rule added) carries the sources over: the host stays on its member.
    await h.writeConfig(tierConfig({ sticky: 600, rules: [{ proto: 'tcp', dport: 9, use: 'isp3' }] }));
    const reloadFrom = (await h.logLines()).length;
    expect(await h.run()).toMatchObject({ exitCode: 0, stderr: '' });
    expect(await logSince(h, reloadFrom, /nftables: loaded/)).toHaveLength(1);
    expect((await h.net.exec(h.net.routerNs, 'nft', ['list', 'set', 'inet', 'netgwm', `sticky_${member}`])).stdout).toContain(
      h.net.lanHostIp,
    );
    expect(await lanUdpFlows(h.net, h.net.deadSite, STICKY_PORTS + 200, 100)).toBe('sent 100');
    await waitFor(async () => {
      counts = await lanUdpCounts(h.net, STICKY_PORTS);
      return counts.isp1! + counts.isp2! >= 300;
    }, 10_000);
    expect([counts.isp1, counts.isp2].sort()).toEqual([0, 300]);
    // Verifying the table does not take the set's elements for someone's change.
    await h.writeConfig({
      ...tierConfig({ sticky: 600, rules: [{ proto: 'tcp', dport: 9, use: 'isp3' }] }),
      nftables: { verify_interval: 0 },
    });
    const logFrom = (await h.logLines()).length;
    expect(await h.run()).toMatchObject({ exitCode: 0, stderr: '' });
    expect(await logSince(h, logFrom, /nftables:/)).toEqual([]);
  });
  it('every member down: the failover tier takes the route and the new connections; the members are flushed by mark', async () => {
    await h.writeConfig(tierConfig());
    expect(await h.run()).toMatchObject({ exitCode: 0 });
    const logFrom = (await h.logLines()).length;
    await h.net.failOperator(1);
    await h.net.failOperator(2);
    try {
      expect(await h.run()).toMatchObject({ exitCode: 0 });
      expect(await h.currentGateway()).toBe('isp3');
      expect(await logSince(h, logFrom, /route replaced|shares:|conntrack:/)).toEqual([
        expect.stringMatching(/^INFO route replaced to: via 192\.0\.2\.9 dev wan\.3 \(isp3, was isp1: /),
        'INFO shares: default isp3; joined: isp3; left: isp1, isp2 (its new connections go elsewhere)',
        expect.stringMatching(/^INFO conntrack: deleted \d+ flow entries of isp1 \(flush: all, conntrack -D --mark 0x1\/0xff\)$/),
        expect.stringMatching(/^INFO conntrack: deleted \d+ flow entries of isp2 \(flush: all, conntrack -D --mark 0x2\/0xff\)$/),
      ]);
      expect((await h.net.exec(h.net.routerNs, 'nft', ['list', 'chain', 'inet', 'netgwm', 'choose'])).stdout).toContain(
        'goto gw_3 comment "default: isp3"',
      );
    } finally {
      await h.net.restoreOperator(1);
      await h.net.restoreOperator(2);
    }
  });
});

describe('the daemon: a member failing leaves the share when its health says so, and rejoins when stable', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await Harness.create({ uplinks: 2 });
    await addUplinkTables(h.net);
    const gateways = markedGateways(h.net, { tables: true }) as Record<string, Record<string, unknown>>;
    await h.writeConfig({
      gateways: { isp1: { ...gateways.isp1, weight: 3 }, isp2: { ...gateways.isp2, priority: 1, weight: 1 } },
      // Long enough that a rejoin before the next housekeeping (600 s) needs the daemon's wake-up.
      min_uptime: 3,
      nftables: {},
      conntrack: { flush: 'udp' },
    });
  }, 60_000);
  afterAll(async () => {
    await h?.destroy();
  });

  it('shares follow the health, with no housekeeping cycle in between', async () => {
    const choose = async () =>
      (await h.net.exec(h.net.routerNs, 'nft', ['list', 'chain', 'inet', 'netgwm', 'choose'], { reject: false })).stdout;
    const daemon = h.daemon(['--interval', '600']);
    try {
      expect(await waitFor(async () => (await choose()).includes('goto tier_1 comment "default: tier 1"'), 60_000)).toBe(true);
      await h.net.failOperator(2);
      expect(await waitFor(async () => (await choose()).includes('goto gw_1 comment "default: isp1"'), 60_000)).toBe(true);
      expect(await waitFor(async () => (await logSince(h, 0, /conntrack:/)).length > 0, 10_000)).toBe(true);
      expect(await logSince(h, 0, /shares:.*left|conntrack:/)).toEqual([
        'INFO shares: default isp1; left: isp2 (its new connections go elsewhere)',
        expect.stringMatching(/^INFO conntrack: deleted \d+ flow entries of isp2 \(flush: udp, conntrack -D -p udp --mark 0x2\/0xff\)$/),
      ]);
      await h.net.restoreOperator(2);
      expect(await waitFor(async () => (await choose()).includes('goto tier_1 comment "default: tier 1"'), 60_000)).toBe(true);
      const rejoined = async () => (await h.logLines()).filter((line) => line.includes('shares:')).at(-1) ?? '';
      expect(await waitFor(async () => (await rejoined()).includes('joined: isp2'), 10_000)).toBe(true);
      expect(await rejoined()).toMatch(/INFO shares: default tier 1: isp1 75 %, isp2 25 %; joined: isp2$/);
    } finally {
      daemon.kill('SIGTERM');
      await daemon;
    }
  });
});
