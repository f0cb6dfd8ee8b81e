// netgwm's nft marks on the namespace network: each uplink has its own routing table and an
// `ip rule fwmark` to it, so a packet's mark decides which uplink it leaves by. Seen from
// outside: which operator namespace counts the LAN's packets, what the router's conntrack says.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Harness, waitFor } from '../harness.js';
import {
  activeMarks,
  addUplinkTables,
  lanConnects,
  lanPortCounts,
  markedGateways,
  routerFlows,
  startTcp,
  watchLanPorts,
  type Endpoint,
} from './support.js';

const LONG_FLOW_PORT = 5001;
const NEW_FLOW_PORT = 5002;
const LOCAL_FLOW_PORT = 5003;

describe('nftables marks (3 uplinks, a table per uplink, flush: none)', () => {
  let h: Harness;
  let server: Endpoint | undefined;
  let stream: Endpoint | undefined;
  const site = () => h.net.sites[0]!;
  // The operator 2 side of the network: its own address on the transit to the net namespace,
  // which the router reaches only by its default route (operator 1) or by uplink 2's table.
  const operator2 = () => ({ ns: h.net.uplink(2).operatorNs, source: '198.18.2.2' });

  beforeAll(async () => {
    h = await Harness.create();
    await addUplinkTables(h.net);
    await h.writeConfig({ gateways: markedGateways(h.net, { tables: true }), min_uptime: 0, nftables: {}, conntrack: { flush: 'none' } });
    await watchLanPorts(h.net, [LONG_FLOW_PORT, NEW_FLOW_PORT]);
    server = await startTcp(h.net, h.net.netNs, ['server', site(), [LONG_FLOW_PORT, NEW_FLOW_PORT, LOCAL_FLOW_PORT].join(','), '55000']);
  });
  afterAll(async () => {
    for (const endpoint of [stream, server]) endpoint?.process.kill('SIGKILL');
    await h?.destroy();
  });

  it("without netgwm's marks, a connection arriving on uplink 2 is answered via uplink 1 (and lost with it)", async () => {
    expect(server!.firstLine).toBe('listening');
    // The route an administrator (or ifupdown) set before netgwm ever ran.
    await h.net.exec(h.net.routerNs, 'ip', [
      'route',
      'replace',
      'default',
      'via',
      h.net.uplink(1).gatewayIp,
      'dev',
      h.net.uplink(1).routerDev,
    ]);
    await h.net.failOperator(1);
    expect(await h.net.ping(operator2().ns, h.net.uplink(2).routerIp, { source: operator2().source })).toBe(false);
    expect(await h.net.ping(operator2().ns, h.net.lanHostIp, { source: operator2().source })).toBe(false);
    await h.net.restoreOperator(1);
  });

  it('first run on a route already in place: installs the rules and loads the table with isp1 active', async () => {
    const result = await h.run();
    expect(result).toMatchObject({ exitCode: 0, stdout: '', stderr: '' });
    expect(await h.currentGateway()).toBe('isp1');
    expect(await activeMarks(h.net)).toEqual([
      { comment: 'active isp1: new forwarded connections', mark: 1 },
      { comment: 'active isp1: new local connections', mark: 1 },
    ]);
    const rules = (await h.net.exec(h.net.routerNs, 'ip', ['rule', 'list'])).stdout;
    expect(rules).toContain('1100:\tfrom all lookup main suppress_prefixlength 0');
    for (const i of [1, 2, 3]) expect(rules).toContain(`1101:\tfrom all fwmark 0x${i}/0xff lookup uplink${i}`);
    expect((await h.logLines()).join('\n')).toMatch(
      /INFO ip rules: added pref 1100 lookup 254 suppress_prefixlength 0, pref 1101 fwmark 0x1\/0xff lookup 101, .*\n.*INFO nftables: loaded table inet netgwm; new connections get mark 0x1 \(isp1\)/,
    );
    expect(await h.probePaths()).toEqual(h.expectedProbePaths());
  });

  it('netgwm nft --print shows that ruleset, as a file nft accepts, and its ip rules', async () => {
    const printed = await h.netgwm(['nft', '--print']);
    expect(printed).toMatchObject({ exitCode: 0, stderr: '' });
    expect(printed.stdout).toMatch(/^# active gateway: isp1, mark 0x1\n/);
    expect(printed.stdout).toContain('#   ip rule add pref 1101 fwmark 0x3/0xff lookup 103');
    // (execa strips the last newline, which nft 1.0.6 needs after a comment)
    expect((await h.net.exec(h.net.routerNs, 'nft', ['-c', '-f', '-'], { input: `${printed.stdout}\n`, reject: false })).exitCode).toBe(0);
    expect(await h.netgwm(['nft'])).toMatchObject({ exitCode: 2, stderr: expect.stringContaining('nft: expected --print') });
  });

  it('with the marks, a connection arriving on uplink 2 is answered via uplink 2 while uplink 1 is active', async () => {
    await h.net.failOperator(1);
    try {
      // To the router itself, and forwarded to the LAN host (as a port forward would be).
      expect(await h.net.ping(operator2().ns, h.net.uplink(2).routerIp, { source: operator2().source })).toBe(true);
      expect(await h.net.ping(operator2().ns, h.net.lanHostIp, { source: operator2().source })).toBe(true);
    } finally {
      await h.net.restoreOperator(1);
    }
    const flows = (await routerFlows(h.net)).filter((flow) => flow.proto === 'icmp' && flow.src === operator2().source);
    expect(flows.map((flow) => flow.mark)).toEqual([2, 2]);
  });

  it('a switch moves new LAN and local connections to the new uplink; an established flow keeps its mark and uplink', async () => {
    stream = await startTcp(h.net, h.net.lanNs, ['stream', site(), String(LONG_FLOW_PORT), '40000']);
    expect(stream.firstLine).toMatch(/^connected \d+$/);
    const streamPort = Number(stream.firstLine.split(' ')[1]);

    expect((await h.netgwm(['use', 'isp2'])).exitCode).toBe(0);
    expect(await h.run()).toMatchObject({ exitCode: 0, stderr: '' });
    expect(await h.currentGateway()).toBe('isp2');
    expect((await activeMarks(h.net)).map((rule) => rule.mark)).toEqual([2, 2]);

    // The flow started before the switch: still mark 1, still through operator 1.
    expect((await routerFlows(h.net)).find((flow) => flow.sport === streamPort)).toMatchObject({
      proto: 'tcp',
      dport: LONG_FLOW_PORT,
      mark: 1,
    });
    const before = await lanPortCounts(h.net);
    let after = before;
    const flowed = await waitFor(async () => {
      after = await lanPortCounts(h.net);
      return after.isp1![LONG_FLOW_PORT]! - before.isp1![LONG_FLOW_PORT]! >= 3;
    });
    expect(flowed).toBe(true);
    expect(after.isp2![LONG_FLOW_PORT]).toBe(0);

    // A new connection: mark 2, through operator 2 only.
    expect(await lanConnects(h.net, NEW_FLOW_PORT)).toBe(true);
    const counts = await lanPortCounts(h.net);
    expect([counts.isp1![NEW_FLOW_PORT], counts.isp3![NEW_FLOW_PORT]]).toEqual([0, 0]);
    expect(counts.isp2![NEW_FLOW_PORT]).toBeGreaterThan(0);
    expect((await routerFlows(h.net)).find((flow) => flow.dport === NEW_FLOW_PORT)).toMatchObject({ src: h.net.lanHostIp, mark: 2 });

    // A connection the router opens itself gets the active mark too.
    const local = await startTcp(h.net, h.net.routerNs, ['once', site(), String(LOCAL_FLOW_PORT), '5000']);
    await local.process;
    expect(local.firstLine).toBe('answered');
    expect((await routerFlows(h.net)).find((flow) => flow.dport === LOCAL_FLOW_PORT)).toMatchObject({
      src: h.net.uplink(2).routerIp,
      mark: 2,
    });
    stream.process.kill('SIGKILL');
  });

  it('probes keep their own mark under the table: a failover still sees the backup up', async () => {
    expect((await h.netgwm(['use', 'auto'])).exitCode).toBe(0);
    await h.run();
    expect(await h.currentGateway()).toBe('isp1'); // back to the best one (min_uptime 0)
    await h.net.failOperator(1);
    try {
      const result = await h.run();
      expect(result.stderr).toMatch(/WARN gateway isp1 down/);
      expect(await h.currentGateway()).toBe('isp2');
      expect((await activeMarks(h.net)).map((rule) => rule.mark)).toEqual([2, 2]);
    } finally {
      await h.net.restoreOperator(1);
    }
    expect(await h.probePaths()).toEqual(h.expectedProbePaths());
  });
});
