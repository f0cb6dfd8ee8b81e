// A keepalived + conntrackd pair with netgwm in both routers (scripts/testnet/ha-network.ts, the
// shipped examples/ha files): the pair comes up, and a takeover keeps a long-lived TCP flow
// through the VIP because the new master's `netgwm role master` commits conntrackd's external
// cache; without the commit (cluster.conntrackd: false) it stalls.
import { afterEach, describe, expect, it } from 'vitest';
import type { DaemonOptions, HaNetwork } from '../../../scripts/testnet/ha-network.js';
import { HA_TEST_TIMEOUT_MS, pairState, settledPair, streamingPair as startPair, waitForSettledPair, withLogs } from './pair.js';

describe('HA pair: keepalived and conntrackd', () => {
  let net: HaNetwork | undefined;

  afterEach(async () => {
    await net?.destroy();
    net = undefined;
  });

  /** The pair, up, with r1 master and the LAN host streaming from the server through the VIP. */
  async function streamingPair(options: DaemonOptions = {}) {
    const pair = await startPair(options);
    net = pair.net;
    return pair;
  }

  it(
    'comes up with r1 (the higher priority) holding the VIP and the LAN host reaching the server and the sites through it',
    async () => {
      const { net, client } = await streamingPair();
      expect(await pairState(net)).toEqual(settledPair(1));
      expect(client.status()).toMatchObject({ connected: true, closed: false, resets: 0, errors: [] });
      for (const site of net.sites) expect(await net.ping(net.hostNs, site)).toBe(true);
    },
    HA_TEST_TIMEOUT_MS,
  );

  it(
    'keeps a TCP flow through the VIP when the master dies: r2 takes over and commits the synced entry; 0 resets, bytes keep flowing',
    async () => {
      const { net, client } = await streamingPair();
      // Before the takeover r2 holds the flow in its external cache only (synced over the sync link).
      expect((await net.conntrackd(2, ['-e'])).stdout).toMatch(/ESTABLISHED .*dport=8080/);
      expect((await net.exec(net.router(2).ns, 'conntrack', ['-L', '-p', 'tcp'])).stdout).not.toContain('dport=8080');

      await net.powerOff(1);
      await withLogs(net, () => net.waitForMaster(2));
      const status = await client.waitForMoreBytes(50_000);
      expect(status).toMatchObject({ connected: true, closed: false, resets: 0, errors: [] });
      expect((await net.exec(net.router(2).ns, 'conntrack', ['-L', '-p', 'tcp'])).stdout).toMatch(/ESTABLISHED .*dport=8080/);
      // netgwm role ran conntrackd's steps one after the other, each on a finished commit.
      const log = await net.conntrackdLog(2);
      expect(log).toMatch(
        /committing all external caches.*Committed \d+ new entries.*flushing caches.*resync with master.*sending bulk update/s,
      );
      expect(log).not.toMatch(/ignoring flush command|commit already in progress/);
    },
    HA_TEST_TIMEOUT_MS,
  );

  it(
    'control: without the commit the new master drops the flow as invalid (it stalls), so the test above proves the commit',
    async () => {
      const { net, client } = await streamingPair({ commitOnTakeover: false });
      await net.powerOff(1);
      await withLogs(net, () => net.waitForMaster(2));
      const atTakeover = await client.waitForMoreBytes(0);
      // Nothing can arrive: r2's firewall drops every packet of the flow (no conntrack entry, no loose pickup).
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      expect(client.status()).toMatchObject({ bytes: atTakeover.bytes, closed: false, resets: 0 });
      expect((await net.exec(net.router(2).ns, 'conntrack', ['-L', '-p', 'tcp'])).stdout).not.toContain('dport=8080');
    },
    HA_TEST_TIMEOUT_MS,
  );

  it(
    "hands the VIP to r2 when all of r1's uplinks fail (its `netgwm health` track script fails), and back when they recover; the flow survives both handovers",
    async () => {
      const { net, client } = await streamingPair();
      await net.setHealthy(1, false);
      await waitForSettledPair(net, 2);
      await client.waitForMoreBytes(50_000);

      await net.setHealthy(1, true);
      await waitForSettledPair(net, 1);
      const status = await client.waitForMoreBytes(50_000);
      expect(status).toMatchObject({ connected: true, closed: false, resets: 0, errors: [] });
    },
    HA_TEST_TIMEOUT_MS,
  );
});
