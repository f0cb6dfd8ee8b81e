import { describe, expect, it } from 'vitest';
import type { Gateway } from '../../../src/core/types.js';
import {
  batchFailures,
  hasMethodSites,
  parsePortList,
  readRouting,
  removeProbePaths,
  sharedProbePorts,
  syncProbePaths,
} from '../../../src/system/probe-paths.js';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '../../support/temp-dir.js';
import { fakeExec } from './fake-exec.js';
import { BOOT_RULES, fakeKernel } from './fake-kernel.js';

const GATEWAYS: Gateway[] = [
  { name: 'isp1', ip: '192.0.2.1', dev: 'wan1', priority: 1, probe: { mark: 0x4e470001, table: 195, ports: { from: 61000, to: 61063 } } },
  { name: 'isp2', ip: '198.51.100.1', priority: 2, probe: { mark: 0x4e470002, table: 196, ports: { from: 61064, to: 61127 } } },
  { name: 'lte', dev: 'ppp0', priority: 3, probe: { mark: 0x4e470003, table: 197, ports: { from: 61128, to: 61191 } } },
];
const CONFIG = { gateways: GATEWAYS, check_table_id: 194, probe: { mark: 0x4e470000, rule_pref: 1000 } } as Parameters<
  typeof syncProbePaths
>[1];

function router() {
  const kernel = fakeKernel({ rules: BOOT_RULES, links: { '192.0.2.1': 'wan1', '198.51.100.1': 'wan2' } });
  const exec = fakeExec((argv, input) => kernel.answer(argv, input));
  return { kernel, exec, commands: () => exec.calls.splice(0).map((call) => call.argv.join(' ')) };
}

describe('syncProbePaths', () => {
  it('installs every path in one batch, then finds them in place with one read and spawns nothing else', async () => {
    const { kernel, exec, commands } = router();
    const first = await syncProbePaths(exec, CONFIG);
    expect(commands()).toEqual(['ip -N -j -4 -batch -', 'ip -4 -force -batch -', 'ip -N -j -4 -batch -']);
    expect(first.repaired).toHaveLength(9);
    expect(first).toMatchObject({ unreachable: {}, devices: { isp1: 'wan1', isp2: 'wan2', lte: 'ppp0' } });
    expect(kernel.routeFor(0x4e470002)).toEqual({ dst: 'default', gateway: '198.51.100.1', dev: 'wan2' });
    expect(kernel.routeFor(0)).toBeUndefined(); // unmarked packets: no probe path (main is empty here)

    expect(await syncProbePaths(exec, CONFIG)).toEqual({
      repaired: [],
      unreachable: {},
      devices: { isp1: 'wan1', isp2: 'wan2', lte: 'ppp0' },
      tablesRepaired: [],
      tablesFailed: [],
    });
    expect(commands()).toEqual(['ip -N -j -4 -batch -']);
  });

  it('a gateway whose link is down is reported unreachable; the others are installed; its probes go nowhere', async () => {
    const { kernel, exec } = router();
    kernel.setLink('wan1', false);
    const report = await syncProbePaths(exec, CONFIG);
    expect(report.unreachable).toEqual({ isp1: 'no route via 192.0.2.1 dev wan1: Error: Nexthop device is not up.' });
    expect(report.devices).toEqual({ isp2: 'wan2', lte: 'ppp0' });
    expect(report.repaired).not.toContain('ip route add default via 192.0.2.1 dev wan1 table 195');
    expect(kernel.routeFor(0x4e470001)).toBeUndefined(); // the unreachable guard, not main

    kernel.setLink('wan1', true);
    expect(await syncProbePaths(exec, CONFIG)).toEqual({
      repaired: ['ip route add default via 192.0.2.1 dev wan1 table 195'],
      unreachable: {},
      devices: { isp1: 'wan1', isp2: 'wan2', lte: 'ppp0' },
      tablesRepaired: [],
      tablesFailed: [],
    });
  });
});

describe('the sport rules of the tcp, http and dns probes', () => {
  const TCP_SITE = { method: 'tcp', key: 'tcp:203.0.113.10:443', host: '203.0.113.10', port: 443 };
  const WITH_METHODS = { ...CONFIG, check_sites: ['198.51.100.1', TCP_SITE] } as unknown as typeof CONFIG;

  it('are installed with the paths only while some check site has a method, and removed when none has', async () => {
    const { kernel, exec } = router();
    await syncProbePaths(exec, { ...CONFIG, check_sites: ['198.51.100.1'] } as unknown as typeof CONFIG);
    expect(kernel.rules.some((rule) => rule.sport_start !== undefined)).toBe(false);

    const report = await syncProbePaths(exec, WITH_METHODS);
    expect(report.repaired).toEqual([
      'ip rule add iif lo sport 61000-61063 lookup 195 pref 1000',
      'ip rule add iif lo sport 61064-61127 lookup 196 pref 1000',
      'ip rule add iif lo sport 61128-61191 lookup 197 pref 1000',
    ]);
    // A socket bound to a port of isp2's range leaves via isp2; other ports and no port follow main (empty here).
    expect(kernel.routeFor(0, 61064)).toEqual({ dst: 'default', gateway: '198.51.100.1', dev: 'wan2' });
    expect(kernel.routeFor(0, 61063)).toEqual({ dst: 'default', gateway: '192.0.2.1', dev: 'wan1' });
    expect(kernel.routeFor(0, 61192)).toBeUndefined();
    expect(kernel.routeFor(0)).toBeUndefined();
    expect((await syncProbePaths(exec, WITH_METHODS)).repaired).toEqual([]);

    // A range moved (probe.port_base) is replaced; the rule of a config without method sites is removed.
    const moved = WITH_METHODS.gateways.map((gateway, i) => ({
      ...gateway,
      probe: { ...gateway.probe, ports: { from: 40000 + 64 * i, to: 40063 + 64 * i } },
    }));
    expect((await syncProbePaths(exec, { ...WITH_METHODS, gateways: moved })).repaired).toEqual([
      'ip rule del pref 1000 iif lo sport 61000-61063 lookup 195',
      'ip rule del pref 1000 iif lo sport 61064-61127 lookup 196',
      'ip rule del pref 1000 iif lo sport 61128-61191 lookup 197',
      'ip rule add iif lo sport 40000-40063 lookup 195 pref 1000',
      'ip rule add iif lo sport 40064-40127 lookup 196 pref 1000',
      'ip rule add iif lo sport 40128-40191 lookup 197 pref 1000',
    ]);
    expect((await syncProbePaths(exec, CONFIG)).repaired).toEqual([
      'ip rule del pref 1000 iif lo sport 40000-40063 lookup 195',
      'ip rule del pref 1000 iif lo sport 40064-40127 lookup 196',
      'ip rule del pref 1000 iif lo sport 40128-40191 lookup 197',
    ]);
  });

  it('a port rule for forwarded traffic too (no `iif lo`) is not the one wanted: it is replaced', async () => {
    const { kernel, exec } = router();
    await syncProbePaths(exec, WITH_METHODS);
    kernel.rules.splice(
      kernel.rules.findIndex((rule) => rule.sport_start === 61064),
      1,
    );
    kernel.rules.splice(1, 0, { priority: 1000, src: 'all', table: '196', sport_start: 61064, sport_end: 61127 });
    expect((await syncProbePaths(exec, WITH_METHODS)).repaired).toEqual([
      'ip rule del pref 1000 sport 61064-61127 lookup 196',
      'ip rule add iif lo sport 61064-61127 lookup 196 pref 1000',
    ]);
  });

  it('netgwm cleanup removes them', async () => {
    const { kernel, exec } = router();
    await syncProbePaths(exec, WITH_METHODS);
    expect(await removeProbePaths(exec, CONFIG)).toContain('ip rule del pref 1000 iif lo sport 61064-61127 lookup 196');
    expect(kernel.rules).toEqual(BOOT_RULES);
  });

  it('a method site is a mapping as written, a compiled site with a method other than icmp, or its key', () => {
    expect(hasMethodSites(undefined)).toBe(false);
    expect(hasMethodSites(['198.51.100.1', 'check.example.net', { method: 'icmp', key: 'x', host: 'x' }])).toBe(false);
    expect(hasMethodSites([{ tcp: '203.0.113.10:443' }])).toBe(true);
    expect(hasMethodSites([TCP_SITE])).toBe(true);
    expect(hasMethodSites(['dns:example.org@198.51.100.53/A'])).toBe(true);
    expect(hasMethodSites(['https://check.example.net/'])).toBe(true);
  });

  it('ports the kernel may also hand out (ip_local_port_range, minus ip_local_reserved_ports) are reported', async () => {
    const dir = await tempDir('ports');
    const files = { local: join(dir, 'range'), reserved: join(dir, 'reserved') };
    const probe = [
      { from: 61000, to: 61063 },
      { from: 61064, to: 61127 },
    ];
    await writeFile(files.local, '32768\t60999\n');
    await writeFile(files.reserved, '\n');
    expect(await sharedProbePorts(probe, files)).toEqual([]);
    await writeFile(files.local, '1024\t65535\n');
    expect(await sharedProbePorts(probe, files)).toEqual([{ from: 61000, to: 61127 }]);
    await writeFile(files.reserved, '8080,61000-61031,61100-61200\n');
    expect(await sharedProbePorts(probe, files)).toEqual([{ from: 61032, to: 61099 }]);
    await writeFile(files.reserved, '61000-61127\n');
    expect(await sharedProbePorts(probe, files)).toEqual([]);
    expect(await sharedProbePorts(probe, { local: join(dir, 'none'), reserved: files.reserved })).toEqual([]);
    expect(parsePortList('22,61000-61063\n')).toEqual([
      { from: 22, to: 22 },
      { from: 61000, to: 61063 },
    ]);
  });
});

describe('uplink tables', () => {
  const WITH_TABLES = { ...CONFIG, gateways: [{ ...GATEWAYS[0]!, table_id: 101 }, ...GATEWAYS.slice(1)] };
  const CONNECTED = { dst: '192.0.2.0/30', dev: 'wan1', protocol: '2', scope: '253', prefsrc: '192.0.2.2' };

  it('are filled in the same batch as the probe paths, kept with the one read, repaired in one batch after a flush', async () => {
    const { kernel, exec, commands } = router();
    kernel.tables.get(254)!.push(CONNECTED);
    const first = await syncProbePaths(exec, WITH_TABLES);
    expect(commands()).toEqual(['ip -N -j -4 -batch -', 'ip -4 -force -batch -', 'ip -N -j -4 -batch -']);
    expect(first.tablesRepaired).toEqual([
      'ip route replace default via 192.0.2.1 dev wan1 proto 194 table 101',
      'ip route replace 192.0.2.0/30 dev wan1 proto 194 scope link src 192.0.2.2 table 101',
    ]);
    expect(kernel.tables.get(101)).toEqual([
      { dst: 'default', gateway: '192.0.2.1', dev: 'wan1', protocol: '194' },
      { ...CONNECTED, protocol: '194' },
    ]);
    expect((await syncProbePaths(exec, WITH_TABLES)).tablesRepaired).toEqual([]);
    expect(commands()).toEqual(['ip -N -j -4 -batch -']);

    kernel.tables.delete(101); // ip route flush table 101
    const repaired = await syncProbePaths(exec, WITH_TABLES);
    expect(commands()).toEqual(['ip -N -j -4 -batch -', 'ip -4 -force -batch -']);
    expect(repaired).toMatchObject({ repaired: [], tablesFailed: [] });
    expect(repaired.tablesRepaired).toHaveLength(2);
    expect(kernel.tables.get(101)).toHaveLength(2);
  });

  it("removing the gateway's table removes netgwm's routes there and leaves the admin's", async () => {
    const { kernel, exec } = router();
    kernel.tables.get(254)!.push(CONNECTED);
    await syncProbePaths(exec, WITH_TABLES);
    const admin = { dst: '203.0.113.0/24', gateway: '192.0.2.1', dev: 'wan1' };
    kernel.tables.get(101)!.push(admin);
    const report = await syncProbePaths(exec, CONFIG);
    expect(report.tablesRepaired).toEqual([
      'ip route del default via 192.0.2.1 dev wan1 proto 194 table 101',
      'ip route del 192.0.2.0/30 dev wan1 proto 194 table 101',
    ]);
    expect(kernel.tables.get(101)).toEqual([admin]);
  });

  it('netgwm cleanup removes them with the probe paths', async () => {
    const { kernel, exec } = router();
    kernel.tables.get(254)!.push(CONNECTED);
    await syncProbePaths(exec, WITH_TABLES);
    expect(await removeProbePaths(exec, WITH_TABLES)).toContain('ip route del default via 192.0.2.1 dev wan1 proto 194 table 101');
    expect(kernel.tables.has(101)).toBe(false);
  });
});

describe('removeProbePaths', () => {
  it('removes every probe path and the old check table, and nothing else', async () => {
    const { kernel, exec } = router();
    await syncProbePaths(exec, CONFIG);
    kernel.rules.splice(1, 0, { priority: 1000, src: 'all', fwmark: '0x4e470000', table: '194' });
    kernel.tables.set(194, [{ dst: 'default', gateway: '192.0.2.1', dev: 'wan1' }]);
    kernel.tables.set(254, [{ dst: 'default', gateway: '192.0.2.1', dev: 'wan1' }]);
    expect(await removeProbePaths(exec, CONFIG)).toEqual([
      'ip rule del pref 1000 fwmark 0x4e470000 lookup 194',
      'ip rule del pref 1000 fwmark 0x4e470001 lookup 195',
      'ip rule del pref 1000 fwmark 0x4e470002 lookup 196',
      'ip rule del pref 1000 fwmark 0x4e470003 lookup 197',
      'ip route flush table 195',
      'ip route flush table 196',
      'ip route flush table 197',
      'ip route flush table 194',
    ]);
    expect(kernel.rules).toEqual(BOOT_RULES);
    expect([...kernel.tables.keys()]).toEqual([254]);
    expect(await removeProbePaths(exec, CONFIG)).toEqual([]);
  });
});

describe('readRouting', () => {
  it('reads rules and routes in one spawn', async () => {
    const exec = fakeExec(() => ({
      stdout: '[{"priority":0,"src":"all","table":"255"}]\n[{"dst":"default","gateway":"192.0.2.1","dev":"wan1","flags":[]}]\n',
    }));
    expect(await readRouting(exec)).toEqual({
      rules: [{ priority: 0, src: 'all', table: '255' }],
      routes: [{ dst: 'default', gateway: '192.0.2.1', dev: 'wan1', flags: [] }],
    });
    expect(exec.calls).toEqual([{ argv: ['ip', '-N', '-j', '-4', '-batch', '-'], input: 'rule list\nroute show table all\n' }]);
  });
});

describe('batchFailures', () => {
  it("maps each failed line (from 1 in ip's count) to the error printed before it", () => {
    const stderr = 'Error: Nexthop has invalid gateway.\nCommand failed -:2\nCannot find device "d9"\nCommand failed -:5\n';
    expect(batchFailures(stderr)).toEqual(
      new Map([
        [1, 'Error: Nexthop has invalid gateway.'],
        [4, 'Cannot find device "d9"'],
      ]),
    );
  });
});
