// What each router of the pair does when the two lose sight of each other (issue 14):
//
// - Sync link cut: VRRP is unaffected (its advertisements run on the LAN), so r1 stays master
//   and routes as before; only conntrackd's sync stops. Flows opened during the cut are missing
//   from r2's external cache: a takeover during the cut would lose them (they stall at r2's
//   firewall); flows from before the cut are safe. When the link is back, FTFW resends what r2
//   did not acknowledge and r2's cache catches up by itself (no notify, no `conntrackd -n`).
// - VRRP split brain (advertisements lost on the LAN, the LAN itself still working): both
//   routers become master, both hold the LAN VIP and the uplink VIPs, both commit their external
//   caches and keep their own routes. The LAN host and the operators send to whichever router
//   they heard a gratuitous ARP from last, so a flow keeps working on either. When the
//   advertisements come back the lower priority (r2) yields and only r1 holds the VIPs again.
//   Both run their master notify actions meanwhile: both commit conntrackd's cache and run the
//   hooks (and so send notifications) as master.
import { afterEach, describe, expect, it } from 'vitest';
import type { HaNetwork } from '../../../scripts/testnet/ha-network.js';
import {
  HA_TEST_TIMEOUT_MS,
  pairState,
  settledPair,
  streamingPair as startPair,
  waitForSettledPair,
  waitForValue,
  withLogs,
} from './pair.js';

describe('HA pair: split brain', () => {
  let net: HaNetwork | undefined;

  afterEach(async () => {
    await net?.destroy();
    net = undefined;
  });

  async function streamingPair() {
    const pair = await startPair();
    net = pair.net;
    return pair;
  }

  /** How many flows to the stream server router `r`'s conntrackd has in its external cache. */
  async function syncedFlows(net: HaNetwork, r: 1 | 2): Promise<number> {
    return (await net.conntrackd(r, ['-e'])).stdout.split('\n').filter((line) => line.includes('dport=8080')).length;
  }

  it(
    'sync link cut: r1 stays master and keeps routing, r2 misses the flows opened meanwhile until the link is back',
    async () => {
      const { net, client } = await streamingPair();
      await net.setSyncLink(false);
      const second = net.startStreamClient();
      await second.waitForMoreBytes(20_000);
      await client.waitForMoreBytes(20_000);
      expect(await pairState(net)).toEqual(settledPair(1));
      expect(await syncedFlows(net, 2)).toBe(1);
      expect(await net.routeVia(net.router(1))).toBe(net.router(1).uplinks[0]!.gatewayIp);
      expect(await net.routeVia(net.router(2))).toBe(net.router(2).uplinks[0]!.gatewayIp);

      await net.setSyncLink(true);
      await withLogs(net, () => waitForValue(() => syncedFlows(net, 2), 2));
      expect(second.status()).toMatchObject({ closed: false, resets: 0, errors: [] });
    },
    HA_TEST_TIMEOUT_MS,
  );

  it(
    'VRRP split brain: both become master and keep their own routes, the flow keeps working, and r2 yields when advertisements return',
    async () => {
      const { net, client } = await streamingPair();
      await net.setVrrpBlocked(true);
      await withLogs(net, () => waitForValue(() => net.vipHolders(), [1, 2]));
      await withLogs(net, () => waitForValue(async () => (await net.notifyStates(2)).at(-1), 'MASTER'));
      expect((await net.notifyStates(1)).at(-1)).toBe('MASTER');
      for (const router of Object.values(net.routers)) expect(await net.routeVia(router)).toBe(router.uplinks[0]!.gatewayIp);
      await client.waitForMoreBytes(50_000);

      await net.setVrrpBlocked(false);
      // r2 went master and back within seconds: its role file must say backup, as keepalived does.
      await waitForSettledPair(net, 1);
      expect(await withLogs(net, () => client.waitForMoreBytes(50_000))).toMatchObject({ closed: false, resets: 0, errors: [] });
      expect(await net.ping(net.hostNs, net.serverIp)).toBe(true);
    },
    HA_TEST_TIMEOUT_MS,
  );
});
