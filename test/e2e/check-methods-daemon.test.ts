// Check methods (issue 15) under `netgwm daemon`: its continuous monitoring probes each method site
// at the site's own interval through each gateway, and a failure of any method moves the route
// without waiting for the housekeeping cycle (60 s here); a server that hangs costs each probe its
// timeout only, so the monitor keeps going; each gateway's probes leave by its own uplink only.
// Real servers in the sites' namespace (scripts/testnet/check-lab.ts). The hang guards (30 s) are
// far above what any step needs; no test asserts how long anything took.
import { rm } from 'node:fs/promises';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CheckLab, DNS_CHECK_NAME, DNS_IP, ENDPOINTS, TCP_PORT, WEB_IP } from '../../scripts/testnet/check-lab.js';
import { Harness, waitFor } from './harness.js';

const HANG_GUARD_MS = 30_000;
// Rounds of method sites every 0.5 s (the shortest interval allowed), each probe at most 1 s.
const PACE = { interval: 0.5, timeout: 1 };

let h: Harness;
let lab: CheckLab;

beforeAll(async () => {
  h = await Harness.create({ uplinks: 3, sites: 1 });
  lab = await CheckLab.start(h.net);
});
afterAll(async () => {
  await h?.destroy();
});
// Each test starts on isp1 with no history and an empty log, whatever the last one left.
beforeEach(async () => {
  await rm(h.stateDir(), { recursive: true, force: true });
  await rm(h.logFile(), { force: true });
  await h.net.exec(h.net.routerNs, 'ip', ['route', 'replace', 'default', 'via', h.net.uplink(1).gatewayIp]);
});
afterEach(async () => {
  await lab.reset();
});

const tcpSite = { tcp: `${WEB_IP}:${TCP_PORT}`, ...PACE };
const httpSite = () => ({ http: lab.url(ENDPOINTS.generate204, { tls: true }), expect: 204, server: DNS_IP, ...PACE });
const dnsSite = { dns: DNS_CHECK_NAME, server: DNS_IP, type: 'A', ...PACE };

/** Every method must answer (min_sites 3); up again after 2 good rounds, back to the best at once. */
async function configureAllMethods(): Promise<void> {
  await h.writeConfig({ check_sites: [tcpSite, httpSite(), dnsSite], min_uptime: 0, probe: { timeout: 0.5, min_sites: 3, up: 2 } });
}

/** The daemon with a housekeeping cycle (60 s) beyond every hang guard, trusting the lab's CA; runs `body`, then stops. */
async function withDaemon(body: () => Promise<void>): Promise<void> {
  const daemon = h.daemon(['--interval', '60'], { NODE_EXTRA_CA_CERTS: lab.caFile });
  try {
    await body();
  } finally {
    daemon.kill('SIGTERM');
    const stopped = await daemon;
    expect(stopped.exitCode, String(stopped.stderr)).toBe(0);
  }
}

const onGateway = (name: string) => waitFor(async () => (await h.currentGateway()) === name, HANG_GUARD_MS);
const logged = (pattern: RegExp) => waitFor(async () => (await h.logLines()).some((line) => pattern.test(line)), HANG_GUARD_MS);

describe('check methods under the daemon', () => {
  const breaks: Array<[string, () => Promise<void>]> = [
    ['tcp: its port dropped at operator 1', () => lab.block('tcp', TCP_PORT, { operator: 1 })],
    ['https: a 500 through operator 1', () => lab.setHttpBehaviour(ENDPOINTS.generate204, '500', { uplink: 1 })],
    ['https: a portal redirect through operator 1', () => lab.setHttpBehaviour(ENDPOINTS.generate204, 'redirect', { uplink: 1 })],
    ['dns: queries dropped at operator 1', () => lab.block('udp', 53, { operator: 1 })],
  ];
  it.each(breaks)(
    '%s: isp1 goes down while ICMP answers, the route moves at once, and comes back when it is repaired',
    async (_, breakIt) => {
      await configureAllMethods();
      await withDaemon(async () => {
        expect(await logged(/DEBUG cycle done .* on isp1/)).toBe(true);
        await breakIt();
        expect(await onGateway('isp2')).toBe(true);
        expect(await logged(/WARN gateway isp1 down/)).toBe(true);
        expect(await h.net.ping(h.net.routerNs, WEB_IP)).toBe(true); // main (isp2) — and through isp1's mark:
        const ping = await h.net.exec(h.net.routerNs, 'ping', ['-n', '-q', '-c', '1', '-W', '1', '-m', String(0x4e470001), WEB_IP], {
          reject: false,
        });
        expect(ping.exitCode).toBe(0);
        await lab.reset();
        expect(await onGateway('isp1')).toBe(true);
      });
    },
  );

  it('a server that never answers through operator 1 costs each probe its timeout only: new probes keep coming, isp1 is down, and up again once it answers', async () => {
    await h.writeConfig({ check_sites: [httpSite()], min_uptime: 0, probe: { timeout: 0.5, up: 2 } });
    await withDaemon(async () => {
      expect(await logged(/DEBUG cycle done .* on isp1/)).toBe(true);
      await lab.setHttpBehaviour(ENDPOINTS.generate204, 'hang', { uplink: 1 });
      expect(await onGateway('isp2')).toBe(true);
      const hung = async () =>
        (await lab.requests()).filter((request) => request.behaviour === 'hang' && request.remoteAddress === h.net.uplink(1).routerIp)
          .length;
      const before = await hung();
      // A probe held by the server would be the last one: more keep arriving, one per interval.
      expect(await waitFor(async () => (await hung()) >= before + 6, HANG_GUARD_MS)).toBe(true);
      // And each ends its connection at its timeout: they do not pile up at the server. Without
      // that, every one of the six or more that arrived would still be open; how many are open
      // at this moment depends on the machine's speed, so only the pile-up is asserted.
      const open = await h.net.exec(h.net.netNs, 'ss', [
        '-Htn',
        'state',
        'established',
        'sport',
        '=',
        ':443',
        'and',
        'dst',
        h.net.uplink(1).routerIp,
      ]);
      expect(open.stdout.split('\n').filter(Boolean).length).toBeLessThan(6);
      await lab.setHttpBehaviour(ENDPOINTS.generate204, undefined, { uplink: 1 });
      expect(await onGateway('isp1')).toBe(true);
      expect(await logged(/INFO gateway isp1 up/)).toBe(true);
    });
  });

  it('the DNS server stopped: every gateway down and the route stays; started again: up', async () => {
    await h.writeConfig({ check_sites: [dnsSite], min_uptime: 0, probe: { timeout: 0.5, up: 2 } });
    await withDaemon(async () => {
      expect(await logged(/DEBUG cycle done .* on isp1/)).toBe(true);
      await lab.stopDns();
      expect(await logged(/ERROR all gateways down/)).toBe(true);
      expect(await h.currentGateway()).toBe('isp1');
      const allDown = (await h.logLines()).findIndex((line) => line.includes('ERROR all gateways down'));
      await lab.startDns();
      const upAgain = async () => (await h.logLines()).slice(allDown).some((line) => /INFO gateway isp1 up/.test(line));
      expect(await waitFor(upAgain, HANG_GUARD_MS)).toBe(true);
      expect(await h.currentGateway()).toBe('isp1');
    });
  });

  it("each gateway's probes leave by its own uplink only, for every method", async () => {
    await configureAllMethods();
    await withDaemon(async () => {
      expect(await logged(/DEBUG cycle done .* on isp1/)).toBe(true);
      await lab.resetTraffic();
      // Enough rounds for every gateway to have probed every site a few times.
      const seenEverywhere = async () => {
        const traffic = await Promise.all(h.net.uplinks.map((uplink) => lab.traffic(uplink.index)));
        return traffic.every((seen, i) => (seen.probes[i] ?? 0) >= 20);
      };
      expect(await waitFor(seenEverywhere, HANG_GUARD_MS)).toBe(true);
      for (const uplink of h.net.uplinks) {
        const seen = await lab.traffic(uplink.index);
        const others = seen.probes.filter((_, j) => j !== uplink.index - 1);
        expect({ operator: uplink.index, others, other: seen.other }).toEqual({
          operator: uplink.index,
          others: others.map(() => 0),
          other: 0,
        });
      }
    });
  });
});
