// The daemon watches every uplink continuously: an outage or a carrier loss moves the route the
// moment it is detected, not at the next housekeeping cycle (60 s here). The figures (p50/p95)
// belong to `npm run bench`; these tests assert the order of events and a hang guard only.
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Harness, waitFor } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await Harness.create();
});
afterAll(async () => {
  await h?.destroy();
});

/** A daemon whose housekeeping cycle (60 s) is far beyond the hang guard (20 s). */
function startDaemon() {
  return h.daemon(['--interval', '60']);
}

async function stopDaemon(daemon: ReturnType<Harness['daemon']>): Promise<void> {
  daemon.kill('SIGTERM');
  await daemon;
}

/** Index of the first log line matching `pattern`, -1 if none. */
async function lineIndex(pattern: RegExp): Promise<number> {
  return (await h.logLines()).findIndex((line) => pattern.test(line));
}

describe('continuous monitoring (netgwm daemon)', () => {
  // Each test starts on isp1 with no history (an earlier test may have left the route on isp2).
  beforeEach(async () => {
    for (const i of [1, 2, 3]) {
      await h.net.restoreOperator(i);
      await h.net.setUplinkCarrier(i, true);
    }
    await rm(h.stateDir(), { recursive: true, force: true });
    await rm(h.logFile(), { force: true });
    await h.net.exec(h.net.routerNs, 'ip', ['route', 'replace', 'default', 'via', h.net.uplinks[0]!.gatewayIp]);
  });

  it('a hard outage of the active uplink moves the route without waiting for the housekeeping cycle', async () => {
    await h.writeConfig({});
    const daemon = startDaemon();
    try {
      expect(await waitFor(async () => (await h.currentGateway()) === 'isp1')).toBe(true);
      await h.net.failOperator(1);
      expect(await waitFor(async () => (await h.currentGateway()) === 'isp2')).toBe(true);
      // The kernel has the route a moment before the line is in the log.
      const switchLine = /INFO route replaced to: via 192\.0\.2\.5 dev wan-2 \(isp2, was isp1: isp1 down/;
      expect(await waitFor(async () => (await lineIndex(switchLine)) >= 0)).toBe(true);
      const down = await lineIndex(/WARN gateway isp1 down: .*0\/2 sites answered/);
      const moved = await lineIndex(switchLine);
      expect(down).toBeGreaterThanOrEqual(0);
      expect(moved).toBeGreaterThan(down);
    } finally {
      await stopDaemon(daemon);
    }
  });

  it('with the ping(8) fallback too: long-lived pings, an outage moves the route', async () => {
    await h.writeConfig({ probe: { method: 'ping' } });
    const pingsSeen: string[] = [];
    const daemon = startDaemon();
    try {
      expect(await waitFor(async () => (await lineIndex(/DEBUG cycle done .* on isp1/)) >= 0)).toBe(true);
      // One ping per gateway and site, not one per echo: the same processes keep running.
      const pings = async () =>
        (await execa('pgrep', ['-P', String(daemon.pid), '-x', 'ping'], { reject: false })).stdout.split('\n').filter(Boolean);
      const before = await pings();
      pingsSeen.push(...before);
      expect(before).toHaveLength(3 * h.net.sites.length);
      await h.net.failOperator(1);
      expect(await waitFor(async () => (await h.currentGateway()) === 'isp2')).toBe(true);
      expect(await waitFor(async () => (await lineIndex(/WARN gateway isp1 down: 0\/2 sites answered in \d+ rounds/)) >= 0)).toBe(true);
      expect((await pings()).filter((pid) => before.includes(pid)).length).toBeGreaterThanOrEqual(4); // isp2's and isp3's
    } finally {
      await stopDaemon(daemon);
    }
    // Stopped with the daemon, not orphaned: none of its pings is alive any more.
    const alive = (pid: string) => execa('ps', ['-p', pid, '-o', 'comm='], { reject: false }).then((ps) => ps.stdout.trim() === 'ping');
    expect(await waitFor(async () => (await Promise.all(pingsSeen.map(alive))).every((isAlive) => !isAlive))).toBe(true);
  });

  it('carrier loss marks the gateway down at once, before any probe could (a round every 30 s)', async () => {
    await h.writeConfig({ probe: { timeout: 0.5, interval: 30, window: 60, up: 1 } });
    const daemon = startDaemon();
    try {
      // The first decision comes once every gateway's first round is in.
      expect(await waitFor(async () => (await lineIndex(/DEBUG cycle done .* on isp1/)) >= 0)).toBe(true);
      await h.net.setUplinkCarrier(1, false);
      expect(await waitFor(async () => (await h.currentGateway()) === 'isp2')).toBe(true);
      expect(await waitFor(async () => (await lineIndex(/WARN gateway isp1 down: .*wan_1.*carrier/)) >= 0)).toBe(true);
      // Carrier back: probes (not the link event) bring it up again, and status says why.
      await h.net.setUplinkCarrier(1, true);
      expect(await waitFor(async () => (await lineIndex(/INFO gateway isp1 up/)) >= 0)).toBe(true);
    } finally {
      await stopDaemon(daemon);
    }
  });

  it('a probe route the kernel removed with its link comes back when the link does', async () => {
    await h.writeConfig({});
    const daemon = startDaemon();
    const probeRoute = async () => {
      const table = 194 + 1; // netgwm_check (194 in the test router's rt_tables) + isp1's number
      const routes = await h.net.exec(h.net.routerNs, 'ip', ['-j', 'route', 'show', 'table', String(table)], { reject: false });
      return routes.exitCode === 0 && routes.stdout.includes('192.0.2.1');
    };
    try {
      expect(await waitFor(probeRoute)).toBe(true);
      await h.net.setUplinkLink(1, false);
      expect(await waitFor(async () => !(await probeRoute()))).toBe(true);
      await h.net.setUplinkLink(1, true);
      expect(await waitFor(probeRoute)).toBe(true);
      expect(await waitFor(async () => (await lineIndex(/INFO gateway isp1 up/)) >= 0)).toBe(true);
    } finally {
      await stopDaemon(daemon);
    }
  });

  it('status shows why each gateway is up or down', async () => {
    await h.writeConfig({});
    await h.net.failOperator(3);
    const daemon = startDaemon();
    try {
      expect(await waitFor(async () => (await lineIndex(/gateway isp3 down/)) >= 0)).toBe(true);
      expect(
        await waitFor(
          async () => JSON.parse(await readFile(join(h.stateDir(), 'state.json'), 'utf8').catch(() => '{}')).gateways?.isp3 !== undefined,
        ),
      ).toBe(true);
      const status = await h.netgwm(['status']);
      expect(status.stdout).toMatch(/isp3 .*down .*0\/2 sites answered in \d+ rounds/);
      expect(status.stdout).toMatch(/isp1 .*up/);
    } finally {
      await stopDaemon(daemon);
    }
  });
});
