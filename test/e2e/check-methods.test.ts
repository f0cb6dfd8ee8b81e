// Check methods (issue 15) with the real netgwm (`netgwm run`, one cycle) on a namespace network
// whose sites' namespace runs real servers (scripts/testnet/check-lab.ts): a TCP connect, an HTTP
// and HTTPS request and a DNS query each detect their own failure while ICMP to the same server
// still answers through the same gateway, and netgwm moves the route to the other gateway; a
// captive portal's redirect counts as down; a server that hangs, never ends its body, sends huge
// headers or a slow first byte cannot hold a run beyond the site's timeout; the probes of each
// gateway leave by its own uplink only, and the router's own traffic to the same server still
// follows the main table.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  CheckLab,
  CLOSED_PORT,
  DNS_CHECK_NAME,
  DNS_IP,
  ENDPOINTS,
  type HttpBehaviour,
  PORTAL_HOST,
  WEB_IP,
  WRONG_NAME_HOST,
} from '../../scripts/testnet/check-lab.js';
import { Harness, type RunResult } from './harness.js';

// One cycle probes each gateway at most this long with these timeouts; the runs' hang guard is
// 10 times more and far below the 120 s a slow server would hold an unbounded probe.
const SITE_TIMEOUT_S = 1;
const RUN_HANG_GUARD_MS = 30_000;
const PROBE_MARK = 0x4e470000;

let h: Harness;
let lab: CheckLab;

beforeAll(async () => {
  h = await Harness.create({ uplinks: 2, sites: 1 });
  lab = await CheckLab.start(h.net);
});
afterAll(async () => {
  await h?.destroy();
});
afterEach(async () => {
  await lab.reset();
});

/** Every gateway probed in every run, and back to the best one at once (no min_uptime). */
async function configure(checkSites: unknown[], extra: Record<string, unknown> = {}): Promise<void> {
  await h.writeConfig({ check_sites: checkSites, check_all_gateways: true, min_uptime: 0, ...extra });
}

/** One `netgwm run` that trusts the lab's CA (as a router given its CA file would). */
async function run(env: Record<string, string> = { NODE_EXTRA_CA_CERTS: lab.caFile }): Promise<RunResult> {
  const result = await h.netgwm(['run'], { timeoutMs: RUN_HANG_GUARD_MS, env });
  expect(result.exitCode, result.stderr).toBe(0);
  return result;
}

interface StatusJson {
  gateways: Array<{ name: string; state: string; reason: string | null; sites: Array<{ site: string; answered: boolean }> }>;
}
async function status(): Promise<StatusJson> {
  return JSON.parse((await h.netgwm(['status', '--json'])).stdout) as StatusJson;
}
async function states(): Promise<Record<string, string>> {
  return Object.fromEntries((await status()).gateways.map((gateway) => [gateway.name, gateway.state]));
}

/** An echo to `target` through gateway i's probe path (its mark): ICMP still answers there. */
async function pingsThrough(i: number, target: string): Promise<boolean> {
  const ping = await h.net.exec(h.net.routerNs, 'ping', ['-n', '-q', '-c', '1', '-W', '1', '-m', String(PROBE_MARK + i), target], {
    reject: false,
  });
  return ping.exitCode === 0;
}

const tcpSite = (port = 443) => ({ tcp: `${WEB_IP}:${port}`, timeout: SITE_TIMEOUT_S });
const httpSite = (path: string = ENDPOINTS.generate204, options: { tls?: boolean; host?: string; expect?: number } = {}) => ({
  http: lab.url(path, options),
  ...(options.expect === undefined ? {} : { expect: options.expect }),
  ...(options.host === WEB_IP ? {} : { server: DNS_IP }),
  timeout: SITE_TIMEOUT_S,
});
const dnsSite = () => ({ dns: DNS_CHECK_NAME, server: DNS_IP, type: 'A', timeout: SITE_TIMEOUT_S });

describe('tcp checks', () => {
  it('TCP 443 dropped at operator 1 while ICMP answers: isp1 is down, the route moves to isp2, and back when it passes again', async () => {
    await configure([tcpSite()]);
    await run();
    expect(await h.currentGateway()).toBe('isp1');
    expect(await states()).toEqual({ isp1: 'up', isp2: 'up' });

    await lab.block('tcp', 443, { operator: 1 });
    const down = await run();
    expect(down.stderr).toMatch(/WARN gateway isp1 down/);
    expect(await h.currentGateway()).toBe('isp2');
    expect(await pingsThrough(1, WEB_IP)).toBe(true);
    expect(await states()).toEqual({ isp1: 'down', isp2: 'up' });

    await lab.unblock('tcp', 443, { operator: 1 });
    await run();
    expect(await h.currentGateway()).toBe('isp1');
  });

  it('a refused connection (nothing listens) counts as reachable: the path works', async () => {
    await configure([tcpSite(CLOSED_PORT)]);
    await run();
    expect(await states()).toEqual({ isp1: 'up', isp2: 'up' });
    await lab.block('tcp', CLOSED_PORT, 'sites');
    await run();
    expect(await states()).toEqual({ isp1: 'down', isp2: 'down' });
  });
});

describe('http and https checks', () => {
  it('HTTP 500 through operator 1 (its proxy) while ICMP and TCP answer: isp1 is down and the route moves', async () => {
    await configure([httpSite(ENDPOINTS.generate204, { expect: 204 })]);
    await run();
    expect(await h.currentGateway()).toBe('isp1');
    await lab.setHttpBehaviour(ENDPOINTS.generate204, '500', { uplink: 1 });
    const down = await run();
    expect(down.stderr).toMatch(/WARN gateway isp1 down/);
    expect(await h.currentGateway()).toBe('isp2');
    expect(await pingsThrough(1, WEB_IP)).toBe(true);
    // The server did answer isp1's probe, with a 500: the probe got through and judged the status.
    expect(
      (await lab.requests()).some((request) => request.behaviour === '500' && request.remoteAddress === h.net.uplink(1).routerIp),
    ).toBe(true);
    await lab.setHttpBehaviour(ENDPOINTS.generate204, undefined, { uplink: 1 });
    await run();
    expect(await h.currentGateway()).toBe('isp1');
  });

  it('without expect any 2xx passes; with expect: 204 a 200 does not', async () => {
    await configure([httpSite(ENDPOINTS.ok)]);
    await run();
    expect(await states()).toEqual({ isp1: 'up', isp2: 'up' });
    await configure([httpSite(ENDPOINTS.ok, { expect: 204 })]);
    await run();
    expect(await states()).toEqual({ isp1: 'down', isp2: 'down' });
  });

  it("a captive portal's redirect counts as down", async () => {
    await configure([httpSite(ENDPOINTS.generate204, { expect: 204 })]);
    await run();
    await lab.setHttpBehaviour(ENDPOINTS.generate204, 'redirect', { uplink: 1 });
    await run();
    expect(await h.currentGateway()).toBe('isp2');
    expect(await states()).toEqual({ isp1: 'down', isp2: 'up' });
    // A portal everywhere: nothing to move to, the route stays.
    await lab.setHttpBehaviour(ENDPOINTS.generate204, 'redirect');
    const all = await run();
    expect(all.stderr).toMatch(/ERROR all gateways down; keeping the current route \(isp2\)/);
    // Never followed to the portal's page.
    expect((await lab.requests()).filter((request) => request.path === '/login' || request.host === PORTAL_HOST)).toEqual([]);
  });

  it('https with the certificate checked: passes with the CA, fails without it or for a name not in the certificate; insecure: true passes', async () => {
    await configure([httpSite(ENDPOINTS.generate204, { tls: true, expect: 204 })]);
    await run();
    expect(await states()).toEqual({ isp1: 'up', isp2: 'up' });
    await run({}); // the system's CAs only: the lab's certificate is not trusted
    expect(await states()).toEqual({ isp1: 'down', isp2: 'down' });

    await configure([httpSite(ENDPOINTS.generate204, { tls: true, host: WRONG_NAME_HOST })]);
    await run();
    expect(await states()).toEqual({ isp1: 'down', isp2: 'down' });
    await configure([{ ...httpSite(ENDPOINTS.generate204, { tls: true, host: WRONG_NAME_HOST }), insecure: true }]);
    await run({});
    expect(await states()).toEqual({ isp1: 'up', isp2: 'up' });
  });

  it('https: TCP 443 dropped at operator 1 while ICMP and plain HTTP answer: isp1 is down, the route moves', async () => {
    await configure([httpSite(ENDPOINTS.generate204, { tls: true, expect: 204 }), httpSite(ENDPOINTS.ok)], {
      probe: { timeout: 0.5, min_sites: 2 },
    });
    await run();
    expect(await h.currentGateway()).toBe('isp1');
    await lab.block('tcp', 443, { operator: 1 });
    await run();
    expect(await h.currentGateway()).toBe('isp2');
    const isp1 = (await status()).gateways.find((gateway) => gateway.name === 'isp1')!;
    expect(isp1.sites.map((site) => [site.site, site.answered]).sort()).toEqual(
      [
        [lab.url(ENDPOINTS.generate204, { tls: true }), false],
        [lab.url(ENDPOINTS.ok), true],
      ].sort(),
    );
  });

  it("the URL's host name is resolved through the gateway with resolv.conf's server when the site names none", async () => {
    await writeFile(join(h.net.routerEtcDir, 'resolv.conf'), `nameserver ${DNS_IP}\n`);
    const { server: _none, ...site } = httpSite(ENDPOINTS.generate204, { expect: 204 });
    await configure([site]);
    await run();
    expect(await states()).toEqual({ isp1: 'up', isp2: 'up' });
    // Name resolution through operator 1 fails: isp1 cannot reach the site by name.
    await lab.block('udp', 53, { operator: 1 });
    await run();
    expect(await h.currentGateway()).toBe('isp2');
    expect(await states()).toEqual({ isp1: 'down', isp2: 'up' });
  });

  // Each would hold a probe that waits for it for longer than any timeout of the test (or for
  // ever): the run still ends, isp1 is down, and the route moves.
  const holding: Array<[HttpBehaviour, string]> = [
    ['hang', 'never sends a byte'],
    ['slow-first-byte', 'sends its status line after 120 s'],
    ['endless-status-line', 'sends a status line that never ends'],
  ];
  it.each(holding)('a server that %s (%s) cannot hold a run beyond the site timeout: down', async (behaviour) => {
    await configure([httpSite(ENDPOINTS.generate204, { tls: true, expect: 204 })]);
    await run();
    expect(await h.currentGateway()).toBe('isp1');
    await lab.setHttpBehaviour(ENDPOINTS.generate204, behaviour, { uplink: 1 });
    await run(); // its hang guard (30 s) fails the test if the probe is held
    expect(await h.currentGateway()).toBe('isp2');
    expect(await states()).toEqual({ isp1: 'down', isp2: 'up' });
  });

  // The status line is all a check needs: what follows it (a body that never ends, a megabyte of
  // headers) is never waited for, and the status decides.
  const endless: Array<[string, string, number]> = [
    [ENDPOINTS.endless, 'a body that never ends after a 200', 200],
    [ENDPOINTS.hugeHeaders, 'a megabyte of headers after a 204', 204],
  ];
  it.each(endless)('%s (%s): judged by its status line, the run ends', async (path, _, status) => {
    await configure([httpSite(path, { tls: true, expect: status })]);
    await run(); // its hang guard (30 s) fails the test if the probe is held
    expect(await states()).toEqual({ isp1: 'up', isp2: 'up' });
    await configure([httpSite(path, { tls: true, expect: status === 200 ? 204 : 200 })]);
    await run();
    expect(await states()).toEqual({ isp1: 'down', isp2: 'down' });
  });
});

describe('dns checks', () => {
  it('dnsmasq stopped while ICMP to it answers: every gateway down, the route stays; started again: up', async () => {
    await configure([dnsSite()]);
    await run();
    expect(await states()).toEqual({ isp1: 'up', isp2: 'up' });
    await lab.stopDns();
    const down = await run();
    expect(down.stderr).toMatch(/ERROR all gateways down; keeping the current route \(isp1\)/);
    expect(await states()).toEqual({ isp1: 'down', isp2: 'down' });
    expect(await pingsThrough(1, DNS_IP)).toBe(true);
    expect(await pingsThrough(2, DNS_IP)).toBe(true);
    await lab.startDns();
    await run();
    expect(await states()).toEqual({ isp1: 'up', isp2: 'up' });
  });

  it('queries dropped at operator 1 only: isp1 is down and the route moves to isp2', async () => {
    await configure([dnsSite()]);
    await run();
    expect(await h.currentGateway()).toBe('isp1');
    await lab.block('udp', 53, { operator: 1 });
    await run();
    expect(await h.currentGateway()).toBe('isp2');
    expect(await pingsThrough(1, DNS_IP)).toBe(true);
  });
});

describe('probe paths of the methods', () => {
  const allMethods = () => [tcpSite(), httpSite(ENDPOINTS.generate204, { expect: 204 }), httpSite(ENDPOINTS.ok, { tls: true }), dnsSite()];

  it("each gateway's probes of every method leave by its own uplink only, from its own port range", async () => {
    await configure(allMethods());
    await run(); // installs the probe paths
    await lab.resetTraffic();
    await run();
    expect(await states()).toEqual({ isp1: 'up', isp2: 'up' });
    const [first, second] = [await lab.traffic(1), await lab.traffic(2)];
    // tcp: SYN + ACK…, http(s): a connection each, dns: queries for the http names and the dns site.
    expect(first.probes[0]).toBeGreaterThan(0);
    expect(first.probes[1]).toBe(0);
    expect(second.probes[0]).toBe(0);
    expect(second.probes[1]).toBeGreaterThan(0);
    expect(first.other + second.other).toBe(0); // no probe from another port
    // The server saw each gateway's probes from that gateway's uplink address and port range.
    for (const request of await lab.requests()) {
      const gateway = h.net.uplinks.find((uplink) => uplink.routerIp === request.remoteAddress);
      if (!gateway) continue; // curl from the lab's own test, if any
      const range = lab.portRange(gateway.index);
      expect(request.remotePort).toBeGreaterThanOrEqual(range.from);
      expect(request.remotePort).toBeLessThanOrEqual(range.to);
    }
  });

  it('the router\'s own traffic to the same server follows the main table, and so does a LAN host\'s from a "probe" port', async () => {
    await configure(allMethods());
    await run();
    expect(await h.currentGateway()).toBe('isp1');
    expect((await h.net.exec(h.net.routerNs, 'ip', ['rule', 'list'])).stdout).toMatch(/from all iif lo sport 61064-61127 lookup 196/);
    await lab.resetTraffic();
    const curl = (ns: string, args: string[]) =>
      h.net.exec(ns, 'curl', ['-sS', '-m', '5', '-o', '/dev/null', '-w', '%{http_code}', ...args, `http://${WEB_IP}/ok`], {
        reject: false,
      });
    expect((await curl(h.net.routerNs, [])).stdout).toBe('200');
    let [first, second] = [await lab.traffic(1), await lab.traffic(2)];
    expect(first.other).toBeGreaterThan(0);
    expect(second).toEqual({ probes: [0, 0], other: 0 });

    // A LAN host that happens to use a port of isp2's range (Windows and macOS pick theirs from
    // 49152-65535) is forwarded by the main table: the port rules are for the router's own sockets.
    await lab.resetTraffic();
    expect((await curl(h.net.lanNs, ['--local-port', String(lab.portRange(2).from + 5)])).stdout).toBe('200');
    [first, second] = [await lab.traffic(1), await lab.traffic(2)];
    expect(first.probes[1]).toBeGreaterThan(0);
    expect(second).toEqual({ probes: [0, 0], other: 0 });
  });

  it('status --json and the metrics show the method sites by their keys, with a method label', async () => {
    const metricsFile = join(h.dir, 'netgwm.prom');
    await configure([tcpSite(), httpSite(ENDPOINTS.generate204, { expect: 204 }), dnsSite(), h.net.sites[0]], {
      metrics_file: metricsFile,
    });
    await run();
    const isp1 = (await status()).gateways.find((gateway) => gateway.name === 'isp1')!;
    const keys = [`tcp:${WEB_IP}:443`, lab.url(ENDPOINTS.generate204), `dns:${DNS_CHECK_NAME}@${DNS_IP}/A`, h.net.sites[0]!];
    expect(isp1.sites.map((site) => site.site).sort()).toEqual([...keys].sort());
    expect(isp1.sites.every((site) => site.answered)).toBe(true);
    const metrics = await h.net.exec(h.net.routerNs, 'cat', [metricsFile]);
    for (const method of ['tcp', 'http', 'dns', 'icmp']) expect(metrics.stdout).toMatch(new RegExp(`\\{[^}]*method="${method}"[^}]*\\}`));
    expect(metrics.stdout).toContain(`site="tcp:${WEB_IP}:443"`);
  });
});
