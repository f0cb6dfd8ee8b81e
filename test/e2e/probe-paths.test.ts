// Probe paths on a real namespace network: each gateway's `ip rule fwmark MARK lookup TABLE` and
// its table's route are installed once and kept, repaired when the kernel drops a route with its
// link, never used by unmarked traffic, removed (with the old check table) by `netgwm cleanup`;
// and a one-shot run probes every gateway at once.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Harness } from './harness.js';

const REPAIRED = 'probe paths installed or repaired';

describe('probe paths (3 uplinks, 2 sites)', () => {
  let h: Harness;
  const repairs = async () => (await h.logLines()).filter((line) => line.includes(REPAIRED));
  const exec = (file: string, args: string[]) => h.net.exec(h.net.routerNs, file, args, { reject: false });

  beforeAll(async () => {
    h = await Harness.create();
  });
  afterAll(async () => {
    await h?.destroy();
  });
  afterEach(async () => {
    for (const uplink of h.net.uplinks) {
      await h.net.restoreOperator(uplink.index);
      await h.net.setUplinkLink(uplink.index, true);
    }
    await h.writeConfig({});
  });

  it('are installed by the first run, logged once, and kept as they are by the next runs', async () => {
    expect(await h.run()).toMatchObject({ exitCode: 0, stdout: '', stderr: '' });
    expect(await h.probePaths()).toEqual(h.expectedProbePaths());
    expect(await repairs()).toHaveLength(1);
    expect(await h.run()).toMatchObject({ exitCode: 0, stdout: '', stderr: '' });
    expect(await h.run()).toMatchObject({ exitCode: 0, stdout: '', stderr: '' });
    expect(await repairs()).toHaveLength(1);
    expect(await h.probePaths()).toEqual(h.expectedProbePaths());
  });

  it('only packets with a probe mark use them: a plain ping from the router follows the main table', async () => {
    await h.run();
    expect(await h.currentGateway()).toBe('isp1');
    await h.net.failOperator(2);
    const site = h.net.sites[0]!;
    const ping = async (mark?: number) =>
      (await exec('ping', ['-n', '-q', '-c', '1', '-W', '1', ...(mark === undefined ? [] : ['-m', String(mark)]), site])).exitCode === 0;
    expect(await ping()).toBe(true); // main: isp1
    expect(await ping(0x4e470001)).toBe(true); // isp1's probe path
    expect(await ping(0x4e470002)).toBe(false); // isp2's: its operator drops everything
    await h.net.failOperator(1);
    await h.net.restoreOperator(2);
    expect(await ping()).toBe(false); // main still goes through the dead isp1, not isp2's probe table
    expect(await ping(0x4e470002)).toBe(true);
  });

  it('a route the kernel removed with its link: the gateway is down at once (no fall-through to main), and the route comes back with the link', async () => {
    await h.writeConfig({ check_all_gateways: true });
    await h.run();
    await h.net.setUplinkLink(2, false);
    expect(await h.probePaths()).not.toContain('default via 192.0.2.5 dev wan-2 table 196');
    const down = await h.run();
    expect(down.exitCode).toBe(0);
    expect(down.stderr).toMatch(/WARN gateway isp2 down: no route via 192\.0\.2\.5: /);
    // isp2's probes meet the unreachable route instead of leaving through the main table's isp1.
    expect((await exec('ping', ['-n', '-q', '-c', '1', '-W', '1', '-m', String(0x4e470002), h.net.sites[0]!])).exitCode).not.toBe(0);

    await h.net.setUplinkLink(2, true);
    const before = (await repairs()).length;
    const up = await h.run();
    expect(up.exitCode).toBe(0);
    expect(await h.probePaths()).toEqual(h.expectedProbePaths());
    expect((await repairs()).slice(before)).toEqual([
      expect.stringMatching(/INFO probe paths installed or repaired: ip route add default via 192\.0\.2\.5 table 196$/),
    ]);
    expect((await h.logLines()).join('\n')).toMatch(/INFO gateway isp2 up: 2\/2 sites answered/);
  });

  it('the single check table of an older version is removed by the next run', async () => {
    await h.run();
    await exec('ip', ['rule', 'add', 'fwmark', '0x4e470000', 'lookup', 'netgwm_check', 'pref', '1000']);
    await exec('ip', ['route', 'add', 'default', 'via', '192.0.2.5', 'table', 'netgwm_check']);
    expect(await h.probePaths()).toContain('default via 192.0.2.5 dev wan-2 table netgwm_check');
    expect(await h.run()).toMatchObject({ exitCode: 0, stderr: '' });
    expect(await h.probePaths()).toEqual(h.expectedProbePaths());
    expect((await repairs()).at(-1)).toMatch(/ip rule del pref 1000 fwmark 0x4e470000 lookup 194; ip route flush table 194$/);
  });

  it('the sport rules of method probes go when no check site has a method: the next run and netgwm cleanup remove them', async () => {
    await h.run();
    await exec('ip', ['rule', 'add', 'iif', 'lo', 'sport', '61064-61127', 'lookup', '196', 'pref', '1000']);
    expect(await h.probePaths()).toContain('1000:\tfrom all iif lo sport 61064-61127 lookup 196');
    expect(await h.run()).toMatchObject({ exitCode: 0, stderr: '' });
    expect(await h.probePaths()).toEqual(h.expectedProbePaths());
    expect((await repairs()).at(-1)).toMatch(
      /probe paths installed or repaired: ip rule del pref 1000 iif lo sport 61064-61127 lookup 196$/,
    );

    // Also one without `iif lo` (as another layout could leave it): it points into a probe table.
    await exec('ip', ['rule', 'add', 'sport', '61000-61063', 'lookup', '195', 'pref', '1000']);
    await exec('ip', ['-6', 'rule', 'add', 'iif', 'lo', 'sport', '61064-61127', 'lookup', '196', 'pref', '1000']);
    const cleanup = await h.netgwm(['cleanup']);
    expect(cleanup).toMatchObject({ exitCode: 0, stderr: '' });
    expect(cleanup.stdout).toContain('ip rule del pref 1000 sport 61000-61063 lookup 195');
    expect(cleanup.stdout).toContain('ip -6 rule del pref 1000 iif lo sport 61064-61127 lookup 196');
    expect((await exec('ip', ['rule', 'list'])).stdout).not.toMatch(/sport/);
    expect((await exec('ip', ['-6', 'rule', 'list'])).stdout).not.toMatch(/sport/);
  });

  it('netgwm cleanup removes them, the old check table and the nft table and fwmark rules, and leaves the default route', async () => {
    const marked = Object.fromEntries(
      h.net.uplinks.map((uplink) => [
        `isp${uplink.index}`,
        { ip: uplink.gatewayIp, priority: uplink.index, mark: uplink.index, table: 100 + uplink.index },
      ]),
    );
    await h.writeConfig({ gateways: marked, nftables: { enabled: true } });
    expect(await h.run()).toMatchObject({ exitCode: 0, stderr: '' });
    await exec('ip', ['route', 'add', 'default', 'via', '192.0.2.5', 'table', 'netgwm_check']);
    const route = await h.net.defaultRoutes();
    expect((await exec('ip', ['rule', 'list'])).stdout).toMatch(/1101:\tfrom all fwmark 0x1\/0xff lookup 101/);
    expect((await exec('nft', ['list', 'tables'])).stdout).toContain('table inet netgwm');

    const cleanup = await h.netgwm(['cleanup']);
    expect(cleanup).toMatchObject({ exitCode: 0, stderr: '' });
    expect(cleanup.stdout).toMatch(/^removed:\n {2}ip rule del pref 1000 fwmark 0x4e470001 lookup 195\n/);
    expect(cleanup.stdout).toContain('ip route flush table 194');
    expect(await h.probePaths()).toEqual([]);
    expect((await exec('ip', ['rule', 'list'])).stdout).not.toMatch(/^1(000|100|101):/m);
    expect((await exec('nft', ['list', 'tables'])).stdout).not.toContain('netgwm');
    expect(await h.net.defaultRoutes()).toEqual(route);
    expect(await h.netgwm(['cleanup'])).toMatchObject({ exitCode: 0, stdout: 'no probe path was installed', stderr: '' });
  });
});

describe('a one-shot run with 16 uplinks, all dead', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.create({ uplinks: 16 });
  });
  afterAll(async () => {
    await h?.destroy();
  });

  it('probes them all at once: it ends after about one probe timeout, not one per gateway', async () => {
    // 16 × 5 s one after another would be 80 s; at once about 5 s. The 50 s are a hang guard (10×).
    await h.writeConfig({ probe: { timeout: 5 } });
    await h.run();
    for (const uplink of h.net.uplinks) await h.net.failOperator(uplink.index);
    const result = await h.netgwm(['run'], { timeoutMs: 50_000 });
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toMatch(/ERROR all gateways down; keeping the current route \(isp1\)/);
    const status = JSON.parse((await h.netgwm(['status', '--json'])).stdout) as { gateways: Array<{ state: string; fresh: boolean }> };
    expect(status.gateways).toHaveLength(16);
    expect(status.gateways.every((gateway) => gateway.state === 'down' && gateway.fresh)).toBe(true);
  });
});
