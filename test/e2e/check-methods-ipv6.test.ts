// Check methods over IPv6 (issue 15) with the real netgwm on a dual-stack namespace network and
// the check-methods lab's servers (scripts/testnet/check-lab.ts): an IPv6 tcp site and an https
// site whose name is resolved (AAAA) through each gateway decide the IPv6 route on their own.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CheckLab, DNS_IP6, ENDPOINTS, WEB_IP6 } from '../../scripts/testnet/check-lab.js';
import { Harness, type RunResult } from './harness.js';

const RUN_HANG_GUARD_MS = 30_000;

let h: Harness;
let lab: CheckLab;

beforeAll(async () => {
  h = await Harness.create({ uplinks: 2, sites: 1, ipv6: true });
  lab = await CheckLab.start(h.net);
});
afterAll(async () => {
  await h?.destroy();
});
afterEach(async () => {
  await lab.reset();
});

async function configure(checkSites: unknown[]): Promise<void> {
  const gateways = Object.fromEntries(
    h.net.uplinks.map((uplink) => [`isp${uplink.index}`, { ip: uplink.gatewayIp, ip6: uplink.gatewayIp6, priority: uplink.index }]),
  );
  // The IPv4 route is decided by the IPv4 site, the IPv6 one by the IPv6 method sites.
  await h.writeConfig({ gateways, check_sites: [h.net.sites[0], ...checkSites], check_all_gateways: true, min_uptime: 0 });
}

async function run(): Promise<RunResult> {
  const result = await h.netgwm(['run'], { timeoutMs: RUN_HANG_GUARD_MS, env: { NODE_EXTRA_CA_CERTS: lab.caFile } });
  expect(result.exitCode, result.stderr).toBe(0);
  return result;
}

describe('check methods over IPv6 (2 dual-stack uplinks)', () => {
  it('an IPv6 tcp site: TCP 443 dropped at operator 1 moves the IPv6 route to isp2, the IPv4 one stays', async () => {
    await configure([{ tcp: `[${WEB_IP6}]:443`, timeout: 1 }]);
    await run();
    expect(await h.currentGateway(6)).toBe('isp1');
    await lab.block('tcp', 443, { operator: 1 });
    await run();
    expect(await h.currentGateway(6)).toBe('isp2');
    expect(await h.currentGateway(4)).toBe('isp1');
  });

  it('an https site by name over IPv6: its AAAA record asked through each gateway, a 500 through operator 1 moves the IPv6 route', async () => {
    await configure([{ http: lab.url(ENDPOINTS.generate204, { tls: true }), expect: 204, server: DNS_IP6, timeout: 1 }]);
    await run();
    expect(await h.currentGateway(6)).toBe('isp1');
    await lab.setHttpBehaviour(ENDPOINTS.generate204, '500', { uplink: 1 });
    await run();
    expect(await h.currentGateway(6)).toBe('isp2');
    // isp1's probe reached the server over IPv6 from the router's address on uplink 1.
    expect(
      (await lab.requests()).some((request) => request.remoteAddress === h.net.uplink(1).routerIp6 && request.behaviour === '500'),
    ).toBe(true);
  });
});
