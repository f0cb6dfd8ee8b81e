// A keepalived + conntrackd pair (scripts/testnet/ha-network.ts) with a static route standing
// in for netgwm: the pair comes up, and a takeover keeps a long-lived TCP flow through the VIP.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HaNetwork } from '../../../scripts/testnet/ha-network.js';

describe('HA pair: keepalived and conntrackd', () => {
  let net: HaNetwork;

  beforeEach(async () => {
    net = await HaNetwork.create();
    await net.startDaemons();
  });

  afterEach(async () => {
    await net?.destroy();
  });

  it('comes up with r1 (the higher priority) holding the VIP and the LAN host reaching the server through it', async () => {
    await net.waitForMaster(1).catch(async (error) => {
      throw new Error(`${String(error)}\n${await net.logs()}`);
    });
    expect(await net.vipHolders()).toEqual([1]);
    expect(await net.notifyStates(2)).toEqual(['BACKUP']);
    await net.startStreamServer();
    const client = net.startStreamClient();
    const status = await client.waitForMoreBytes(20_000);
    expect(status).toMatchObject({ connected: true, closed: false, resets: 0, errors: [] });
    for (const site of net.sites) expect(await net.ping(net.hostNs, site)).toBe(true);
  });

  it('keeps a TCP flow through the VIP when the master dies: r2 takes over, commits the synced state, 0 resets', async () => {
    await net.waitForMaster(1);
    await net.startStreamServer();
    const client = net.startStreamClient();
    await client.waitForMoreBytes(20_000);
    // r2 has the flow in its external cache (synced over the sync link) before the takeover.
    const external = await net.conntrackd(2, ['-e']);
    expect(external.stdout).toContain(`dport=8080`);

    await net.powerOff(1);
    await net.waitForMaster(2);
    const status = await client.waitForMoreBytes(50_000);
    expect(status).toMatchObject({ connected: true, closed: false, resets: 0, errors: [] });
    // The committed entry is in r2's kernel table.
    const table = await net.exec(net.router(2).ns, 'conntrack', ['-L', '-p', 'tcp', '--dport', '8080'], { reject: false });
    expect(table.stdout).toContain('ESTABLISHED');
  });
});
