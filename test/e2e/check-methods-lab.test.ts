// The check-methods lab itself (scripts/testnet/check-lab.ts), before netgwm uses it: its real
// servers answer as documented from the router's namespace (curl and Node's resolver as clients),
// each switch breaks exactly one service while ICMP keeps answering, the counters see which
// uplink carried which local ports, and everything goes with the network.
import { existsSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CheckLab, DNS_CHECK_NAME, ENDPOINTS, PORTAL_HOST, WEB_HOST, WEB_IP, WRONG_NAME_HOST } from '../../scripts/testnet/check-lab.js';
import { TestNetwork } from '../../scripts/testnet/network.js';

let net: TestNetwork;
let lab: CheckLab;

/** curl from the router (main table: isp1), at most `seconds` (a bound on the request, not an assertion). */
async function curl(url: string, options: { args?: string[]; seconds?: number } = {}) {
  const { hostname, port, protocol } = new URL(url);
  const resolve =
    hostname.startsWith('[') || /^\d/.test(hostname)
      ? []
      : ['--resolve', `${hostname}:${port || (protocol === 'https:' ? 443 : 80)}:${WEB_IP}`];
  const result = await net.exec(
    net.routerNs,
    'curl',
    [
      '-sS',
      '-m',
      String(options.seconds ?? 5),
      '-o',
      '/dev/null',
      '-D',
      '-',
      '-w',
      '\n%{http_code} %{size_download}',
      ...resolve,
      ...(options.args ?? []),
      url,
    ],
    { reject: false },
  );
  const [status, size] = (result.stdout.trim().split('\n').at(-1) ?? '').split(' ');
  return { exitCode: result.exitCode, status: Number(status), size: Number(size), headers: result.stdout, stderr: result.stderr };
}

beforeAll(async () => {
  net = await TestNetwork.create({ uplinks: 2, sites: 1, ipv6: true });
  lab = await CheckLab.start(net);
  await net.exec(net.routerNs, 'ip', ['route', 'add', 'default', 'via', net.uplink(1).gatewayIp]);
});
afterAll(async () => {
  await net?.destroy();
});
afterEach(async () => {
  await lab.reset();
});

describe('the check-methods lab', () => {
  it('the web server answers each endpoint as documented, over HTTP and HTTPS', async () => {
    expect(await curl(lab.url(ENDPOINTS.generate204))).toMatchObject({ exitCode: 0, status: 204, size: 0 });
    expect(await curl(lab.url(ENDPOINTS.ok))).toMatchObject({ exitCode: 0, status: 200 });
    expect(await curl(lab.url(ENDPOINTS.error))).toMatchObject({ exitCode: 0, status: 500 });
    const portal = await curl(lab.url(ENDPOINTS.portal));
    expect(portal).toMatchObject({ exitCode: 0, status: 302 });
    expect(portal.headers).toMatch(new RegExp(`^location: http://${PORTAL_HOST}/login\\r?$`, 'im'));
    // The never-ending body: curl gives up at its own bound with bytes received and a 200.
    const endless = await curl(lab.url(ENDPOINTS.endless), { seconds: 2 });
    expect(endless).toMatchObject({ exitCode: 28, status: 200 });
    expect(endless.size).toBeGreaterThan(0);
    // Huge headers: more than curl's own 300 KiB limit.
    expect((await curl(lab.url(ENDPOINTS.hugeHeaders))).stderr).toMatch(/Too large response headers/);
    // A status line that never ends: curl never gets a status.
    expect((await curl(lab.url(ENDPOINTS.endlessStatus), { seconds: 2 })).status).toBe(0);
    // Slow first byte and hang: no status line within curl's bound.
    expect(await curl(lab.url(ENDPOINTS.slow), { seconds: 2 })).toMatchObject({ exitCode: 28, status: 0 });
    expect(await curl(lab.url(ENDPOINTS.hang), { seconds: 2 })).toMatchObject({ exitCode: 28, status: 0 });
    expect(await curl(lab.url(ENDPOINTS.generate204, { tls: true }), { args: ['--cacert', lab.caFile] })).toMatchObject({
      exitCode: 0,
      status: 204,
    });
    expect(await curl(lab.url(ENDPOINTS.error, { tls: true }), { args: ['--cacert', lab.caFile] })).toMatchObject({ status: 500 });
    const requests = await lab.requests();
    expect(requests.at(-1)).toMatchObject({
      server: `https ${WEB_IP} 443`,
      path: ENDPOINTS.error,
      behaviour: '500',
      remoteAddress: '192.0.2.2',
    });
  });

  it('the certificate passes with the lab CA only, for the web server name and address, not for another name', async () => {
    const https = (host: string, args: string[]) => curl(lab.url(ENDPOINTS.generate204, { tls: true, host }), { args });
    expect(await https(WEB_HOST, ['--cacert', lab.caFile])).toMatchObject({ exitCode: 0, status: 204 });
    expect(await https(WEB_IP, ['--cacert', lab.caFile])).toMatchObject({ exitCode: 0, status: 204 });
    expect((await https(WEB_HOST, [])).exitCode).toBe(60); // not a CA the system knows
    expect((await https(WRONG_NAME_HOST, ['--cacert', lab.caFile])).stderr).toMatch(/no alternative certificate subject name matches/);
    expect(await https(WRONG_NAME_HOST, ['--insecure'])).toMatchObject({ exitCode: 0, status: 204 });
  });

  it('a control switches an endpoint while the server runs, for HTTP and HTTPS alike', async () => {
    await lab.setHttpBehaviour(ENDPOINTS.generate204, '500');
    expect(await curl(lab.url(ENDPOINTS.generate204))).toMatchObject({ status: 500 });
    expect(await curl(lab.url(ENDPOINTS.generate204, { tls: true }), { args: ['-k'] })).toMatchObject({ status: 500 });
    await lab.setHttpBehaviour(ENDPOINTS.generate204, 'redirect');
    expect(await curl(lab.url(ENDPOINTS.generate204))).toMatchObject({ status: 302 });
    await lab.setHttpBehaviour(ENDPOINTS.generate204, undefined);
    expect(await curl(lab.url(ENDPOINTS.generate204))).toMatchObject({ status: 204 });
  });

  it('a behaviour for one uplink only: requests through the other one get the default', async () => {
    await lab.setHttpBehaviour(ENDPOINTS.generate204, '500', { uplink: 1 });
    await lab.setHttpBehaviour(ENDPOINTS.generate204, 'redirect', { uplink: 2 });
    expect(await curl(lab.url(ENDPOINTS.generate204))).toMatchObject({ status: 500 }); // main: isp1
    await lab.setHttpBehaviour(ENDPOINTS.generate204, undefined, { uplink: 1 });
    expect(await curl(lab.url(ENDPOINTS.generate204))).toMatchObject({ status: 204 });
    await net.exec(net.routerNs, 'ip', ['route', 'replace', 'default', 'via', net.uplink(2).gatewayIp]);
    try {
      expect(await curl(lab.url(ENDPOINTS.generate204, { tls: true }), { args: ['-k'] })).toMatchObject({ status: 302 });
    } finally {
      await net.exec(net.routerNs, 'ip', ['route', 'replace', 'default', 'via', net.uplink(1).gatewayIp]);
    }
  });

  it('dnsmasq answers A and AAAA for the zone, NXDOMAIN-like nothing for other names, and nothing once stopped', async () => {
    expect(await lab.resolve(WEB_HOST, { from: net.routerNs })).toEqual([WEB_IP]);
    expect(await lab.resolve(WEB_HOST, { type: 'AAAA', from: net.routerNs })).toEqual([lab.webIp6]);
    expect(await lab.resolve(DNS_CHECK_NAME, { from: net.routerNs })).toEqual([net.sites[0]]);
    expect(await lab.resolve('nothing.example.net', { from: net.routerNs })).toEqual([]);
    expect(await lab.resolve(WEB_HOST, { server: lab.dnsIp6 })).toEqual([WEB_IP]); // from the sites' own namespace
    await lab.stopDns();
    expect(await lab.resolve(WEB_HOST, { from: net.routerNs })).toEqual([]);
    expect(await net.ping(net.routerNs, lab.dnsIp)).toBe(true);
    await lab.startDns();
    expect(await lab.resolve(WEB_HOST, { from: net.routerNs })).toEqual([WEB_IP]);
    await lab.block('udp', 53, { operator: 1 });
    expect(await lab.resolve(WEB_HOST, { from: net.routerNs })).toEqual([]);
    expect(await net.ping(net.routerNs, lab.dnsIp)).toBe(true);
  });

  it('dropping TCP 443 at one operator breaks HTTPS through that uplink only, at the sites through every uplink; ICMP and HTTP still answer', async () => {
    const https = () => curl(lab.url(ENDPOINTS.generate204, { tls: true }), { args: ['-k'], seconds: 2 });
    const viaIsp2 = ['route', 'replace', 'default', 'via', net.uplink(2).gatewayIp];
    await lab.block('tcp', 443, { operator: 1 });
    expect((await https()).exitCode).toBe(28);
    expect(await curl(lab.url(ENDPOINTS.generate204))).toMatchObject({ status: 204 });
    expect(await net.ping(net.routerNs, WEB_IP)).toBe(true);
    await net.exec(net.routerNs, 'ip', viaIsp2);
    try {
      expect(await https()).toMatchObject({ exitCode: 0, status: 204 });
      await lab.block('tcp', 443, 'sites');
      expect((await https()).exitCode).toBe(28);
      expect(await net.ping(net.routerNs, WEB_IP)).toBe(true);
      await lab.unblock('tcp', 443, 'sites');
      expect(await https()).toMatchObject({ exitCode: 0, status: 204 });
    } finally {
      await net.exec(net.routerNs, 'ip', ['route', 'replace', 'default', 'via', net.uplink(1).gatewayIp]);
    }
  });

  it("the operators count the router's TCP and UDP packets by local port: each gateway's probe range, and the rest", async () => {
    await lab.resetTraffic();
    const range2 = lab.portRange(2);
    expect(range2).toEqual({ from: 61064, to: 61127 });
    await curl(lab.url(ENDPOINTS.ok), { args: ['--local-port', String(range2.from)] });
    await curl(lab.url(ENDPOINTS.ok));
    const [first, second] = [await lab.traffic(1), await lab.traffic(2)];
    expect(first.probes[0]).toBe(0);
    expect(first.probes[1]).toBeGreaterThan(0); // nothing routes range 2 to isp2 here: main goes via isp1
    expect(first.other).toBeGreaterThan(0);
    expect(second).toEqual({ probes: [0, 0], other: 0 });
  });
});

describe('the lab goes with the network', () => {
  it('destroy() stops its servers and removes its directory and namespaces, and is safe twice', async () => {
    const other = await TestNetwork.create({ uplinks: 1, sites: 1 });
    const otherLab = await CheckLab.start(other);
    const pids = [...(await other.exec(other.netNs, 'ip', ['netns', 'pids', other.netNs])).stdout.split('\n').filter(Boolean)];
    expect(pids.length).toBeGreaterThanOrEqual(2); // node and dnsmasq
    await other.destroy();
    await other.destroy();
    const alive = (pid: string) => existsSync(`/proc/${pid}`);
    expect(pids.filter(alive)).toEqual([]);
    expect(existsSync(otherLab.dir)).toBe(false);
    expect(existsSync(`/run/netns/${other.netNs}`)).toBe(false);
  });
});
