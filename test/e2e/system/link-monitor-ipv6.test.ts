/**
 * The link monitor's families on a dual-stack test network: a real `ip monitor` in the router
 * namespace sees IPv6 route and address changes when asked for both families, and is started for
 * IPv4 only by default.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestNetwork } from '../../../scripts/testnet/network.js';
import { type LinkEvent, type LinkMonitorOptions, watchLinks } from '../../../src/system/link-monitor.js';
import { waitFor } from '../harness.js';

let network: TestNetwork;
const inRouter = (args: string[]) => ({ file: 'ip', args: ['netns', 'exec', network.routerNs, 'ip', ...args] });
const routerIp = (...args: string[]) => network.exec(network.routerNs, 'ip', args);

beforeAll(async () => {
  network = await TestNetwork.create({ uplinks: 1, sites: 1, ipv6: true });
});
afterAll(() => network?.destroy());

/** Starts a monitor and waits until it reports an IPv4 route change (it says nothing once it listens). */
async function listening(options: LinkMonitorOptions): Promise<{ events: LinkEvent[]; stop(): Promise<void> }> {
  const events: LinkEvent[] = [];
  const monitor = watchLinks((event) => events.push(event), { command: inRouter, ...options });
  for (let attempt = 0; attempt < 100; attempt++) {
    const before = events.length;
    await ipv4Change();
    if (await waitFor(() => events.length > before, 100)) return { events, stop: () => monitor.stop() };
  }
  await monitor.stop();
  throw new Error('ip monitor never reported a route change');
}

async function ipv4Change(): Promise<void> {
  await routerIp('-4', 'route', 'replace', 'unreachable', '198.18.77.0/24', 'table', '77');
  await routerIp('-4', 'route', 'del', 'unreachable', '198.18.77.0/24', 'table', '77');
}

describe('watchLinks families', () => {
  it('with families [4, 6] reports IPv6 route and address changes too', async () => {
    const monitor = await listening({ families: [4, 6] });
    try {
      const before = monitor.events.filter((event) => event.kind === 'route').length;
      await routerIp('-6', 'route', 'replace', 'unreachable', '2001:db8:77::/64', 'table', '77');
      await routerIp('-6', 'route', 'del', 'unreachable', '2001:db8:77::/64', 'table', '77');
      expect(await waitFor(() => monitor.events.filter((event) => event.kind === 'route').length >= before + 2)).toBe(true);
      const addresses = monitor.events.filter((event) => event.kind === 'address').length;
      await routerIp('-6', 'addr', 'add', '2001:db8:0:1::99/64', 'dev', network.uplink(1).routerDev, 'nodad');
      expect(await waitFor(() => monitor.events.filter((event) => event.kind === 'address').length > addresses)).toBe(true);
    } finally {
      await monitor.stop();
    }
  });

  it('by default watches IPv4 only, as before', async () => {
    const started: string[][] = [];
    const monitor = await listening({
      command: (args) => {
        started.push(args);
        return inRouter(args);
      },
    });
    await monitor.stop();
    expect(started).toEqual([['-4', '-o', 'monitor', 'label', 'link', 'address', 'route']]);
  });
});
