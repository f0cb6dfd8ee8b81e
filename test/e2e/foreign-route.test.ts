// A default route netgwm did not set that the kernel uses instead of netgwm's — issue 9's
// `ip route add blackhole default metric 5` beside the route netgwm goes by: logged once as an
// error, netgwm's route made the one the kernel uses, and the end logged once.
import { rm } from 'node:fs/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Harness } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await Harness.create();
});
afterAll(async () => {
  await h?.destroy();
});
afterEach(async () => {
  await h.net.exec(h.net.routerNs, 'ip', ['route', 'flush', 'table', 'main', 'default'], { reject: false });
  await rm(h.stateDir(), { recursive: true, force: true });
  await rm(h.logFile(), { force: true });
});

const ip = (...args: string[]) => h.net.exec(h.net.routerNs, 'ip', args);
/** The router's default routes, the one the kernel uses first (lowest metric, then as listed). */
async function defaults(): Promise<string[]> {
  const routes = JSON.parse(String((await ip('-j', '-4', 'route', 'show', 'table', 'main', 'default')).stdout)) as Array<{
    type?: string;
    gateway?: string;
    metric?: number;
  }>;
  return routes
    .sort((a, b) => (a.metric ?? 0) - (b.metric ?? 0))
    .map((route) => `${route.type ?? 'unicast'} ${route.gateway ?? '-'} ${route.metric ?? 0}`);
}

describe('a default route netgwm did not set', () => {
  it('a blackhole with a lower metric than the route netgwm goes by: one error, traffic flows again, one line when it is gone', async () => {
    const isp1 = h.net.uplinks[0]!.gatewayIp;
    const site = h.net.sites[0]!;
    // The route an admin (or ifupdown) set, which netgwm goes by, as NetGWM did.
    await ip('route', 'add', 'default', 'via', isp1, 'metric', '10');
    expect(await h.run()).toMatchObject({ exitCode: 0, stderr: '' });
    await ip('route', 'add', 'blackhole', 'default', 'metric', '5');
    expect(await defaults()).toEqual(['blackhole - 5', `unicast ${isp1} 10`]);
    expect(await h.net.ping(h.net.routerNs, site)).toBe(false); // the blackhole wins in the kernel

    const first = await h.run();
    expect(first.exitCode).toBe(0);
    expect(first.stderr).toMatch(
      /^\S+ \S+ ERROR the kernel routes by a default route netgwm did not set: blackhole default metric 5, ahead of isp1's; netgwm puts isp1's route back in front, at metric 0 \(logged once; remove that route, or give it a metric above 0, so that netgwm's route is the one used\)$/,
    );
    expect(await defaults()).toEqual([`unicast ${isp1} 0`, 'blackhole - 5', `unicast ${isp1} 10`]);
    expect(await h.net.ping(h.net.routerNs, site)).toBe(true);
    expect(await h.hookCalls()).toEqual([]); // not a switch: the gateway is the same
    for (let i = 0; i < 2; i++) expect(await h.run()).toMatchObject({ exitCode: 0, stderr: '' });

    await ip('route', 'del', 'blackhole', 'default', 'metric', '5');
    expect(await h.run()).toMatchObject({ exitCode: 0, stderr: '' });
    await h.run();
    const log = await h.logLines();
    expect(log.filter((line) => line.includes('did not set'))).toHaveLength(1);
    expect(log.filter((line) => line.includes('is gone'))).toEqual([
      expect.stringMatching(/ INFO the default route blackhole default metric 5 that was used instead of netgwm's is gone$/),
    ]);
  });

  it("a blackhole put in front of netgwm's own route at the same metric is deleted", async () => {
    expect(await h.run()).toMatchObject({ exitCode: 0 });
    const isp1 = h.net.uplinks[0]!.gatewayIp;
    await ip('route', 'prepend', 'blackhole', 'default');
    expect(await defaults()).toEqual(['blackhole - 0', `unicast ${isp1} 0`]);
    const run = await h.run();
    expect(run.stderr).toMatch(
      /ERROR the kernel routes by a default route netgwm did not set: blackhole default metric 0, ahead of isp1's; netgwm deletes it and puts isp1's route back/,
    );
    expect(await defaults()).toEqual([`unicast ${isp1} 0`]);
    expect(await h.net.ping(h.net.routerNs, h.net.sites[0]!)).toBe(true);
  });
});
