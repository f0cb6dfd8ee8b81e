// Uplink tables on a real namespace network: every gateway with a `table` gets its default route
// and its connected subnet there (proto 194, netgwm's), kept by every cycle and by the daemon on
// route events; a gateway removed from the config takes its routes with it, `netgwm cleanup`
// removes them all, and an admin's own route in such a table is never touched.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Harness, waitFor } from './harness.js';

const ADMIN_ROUTE = ['198.18.50.0/24', 'via', '192.0.2.1', 'dev', 'wan_1', 'table', '101'];

describe('uplink tables (3 uplinks with tables 101-103)', () => {
  let h: Harness;
  const ip = (args: string[]) => h.net.exec(h.net.routerNs, 'ip', args, { reject: false });
  /** The routes of `table` as `ip` prints them, sorted. */
  const table = async (id: number) =>
    (await ip(['-4', 'route', 'show', 'table', String(id)])).stdout
      .split('\n')
      .map((line) => line.trim())
      .filter(Boolean)
      .sort();
  /** What netgwm puts into uplink i's table. */
  const filled = (i: number) => {
    const uplink = h.net.uplink(i);
    const subnet = `192.0.2.${4 * i - 4}/30`;
    return [
      `${subnet} dev ${uplink.routerDev} proto 194 scope link src ${uplink.routerIp}`,
      `default via ${uplink.gatewayIp} dev ${uplink.routerDev} proto 194`,
    ].sort();
  };
  const gateways = (count: number) =>
    Object.fromEntries(
      h.net.uplinks
        .slice(0, count)
        .map((uplink) => [
          `isp${uplink.index}`,
          { ip: uplink.gatewayIp, dev: uplink.routerDev, priority: uplink.index, mark: uplink.index, table: 100 + uplink.index },
        ]),
    );
  const tablesRepaired = async () => (await h.logLines()).filter((line) => line.includes('uplink tables filled or repaired'));

  beforeAll(async () => {
    h = await Harness.create();
  });
  afterAll(async () => {
    await h?.destroy();
  });
  afterEach(async () => {
    await h.netgwm(['cleanup']);
    await ip(['route', 'del', ...ADMIN_ROUTE]);
  });

  it('are filled by the first run, kept as they are, and repaired after `ip route flush table`', async () => {
    await h.writeConfig({ gateways: gateways(3), nftables: { enabled: true } });
    expect(await h.run()).toMatchObject({ exitCode: 0, stderr: '' });
    for (const i of [1, 2, 3]) expect(await table(100 + i)).toEqual(filled(i));
    expect(await tablesRepaired()).toHaveLength(1);
    expect(await h.run()).toMatchObject({ exitCode: 0, stderr: '' });
    expect(await tablesRepaired()).toHaveLength(1);

    await ip(['route', 'flush', 'table', '102']);
    expect(await table(102)).toEqual([]);
    expect(await h.run()).toMatchObject({ exitCode: 0, stderr: '' });
    expect(await table(102)).toEqual(filled(2));
    expect((await tablesRepaired()).at(-1)).toMatch(
      /uplink tables filled or repaired: ip route replace default via 192\.0\.2\.5 dev wan-2 proto 194 table 102; ip route replace 192\.0\.2\.4\/30 dev wan-2 proto 194 scope link src 192\.0\.2\.6 table 102$/,
    );
    // Marked traffic really uses them: a ping with isp2's mark leaves through isp2 while main goes through isp1.
    await h.net.failOperator(1);
    const ping = await h.net.exec(h.net.routerNs, 'ping', ['-n', '-q', '-c', '1', '-W', '1', '-m', '2', h.net.sites[0]!], {
      reject: false,
    });
    expect(ping.exitCode).toBe(0);
    await h.net.restoreOperator(1);
  });

  it('the daemon repairs a flushed table on the route event, long before its next housekeeping', async () => {
    await h.writeConfig({ gateways: gateways(3), nftables: { enabled: true } });
    const daemon = h.daemon(['--interval', '600']);
    try {
      expect(await waitFor(async () => JSON.stringify(await table(103)) === JSON.stringify(filled(3)))).toBe(true);
      await ip(['route', 'flush', 'table', '103']);
      // 20 s is a hang guard: the 600 s housekeeping cannot be what repairs it.
      expect(await waitFor(async () => JSON.stringify(await table(103)) === JSON.stringify(filled(3)))).toBe(true);
    } finally {
      daemon.kill('SIGTERM');
      await daemon;
    }
  });

  it("a gateway removed from the config takes its routes with it; the admin's own route in its table stays; cleanup removes the rest", async () => {
    await h.writeConfig({ gateways: gateways(3), nftables: { enabled: true } });
    expect(await h.run()).toMatchObject({ exitCode: 0, stderr: '' });
    expect((await ip(['route', 'add', ...ADMIN_ROUTE])).exitCode).toBe(0);

    // isp3 loses its table: its routes there go.
    await h.writeConfig({ gateways: { ...gateways(2), isp3: { ip: '192.0.2.9', priority: 3, mark: 3 } }, nftables: { enabled: true } });
    expect(await h.run()).toMatchObject({ exitCode: 0, stderr: '' });
    expect(await table(103)).toEqual([]);
    expect(await table(102)).toEqual(filled(2));

    // isp1 leaves the config: netgwm's routes in its table go, the admin's stays.
    await h.writeConfig({ gateways: { isp2: gateways(2).isp2, isp3: gateways(3).isp3 }, nftables: { enabled: true } });
    expect(await h.run()).toMatchObject({ exitCode: 0, stderr: '' });
    expect(await table(101)).toEqual(['198.18.50.0/24 via 192.0.2.1 dev wan_1']);
    expect(await table(103)).toEqual(filled(3));

    const cleanup = await h.netgwm(['cleanup']);
    expect(cleanup).toMatchObject({ exitCode: 0, stderr: '' });
    expect(cleanup.stdout).toContain('ip route del default via 192.0.2.5 dev wan-2 proto 194 table 102');
    expect(await table(102)).toEqual([]);
    expect(await table(103)).toEqual([]);
    expect(await table(101)).toEqual(['198.18.50.0/24 via 192.0.2.1 dev wan_1']);
  });
});
