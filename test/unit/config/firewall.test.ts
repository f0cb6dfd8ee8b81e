// The firewall keys of the config: gateway marks and tables, `nftables`, `conntrack`.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { configFixture, RT_TABLES, type ConfigFixture } from './fixture.js';

let fixture: ConfigFixture;
/** A PATH with stub `nft` and `conntrack`, and one with neither. */
let withTools: string;
let withoutTools: string;

beforeAll(async () => {
  fixture = await configFixture(`${RT_TABLES}101\tuplink1\n102 uplink2\n`);
  withTools = join(fixture.dir, 'bin');
  withoutTools = join(fixture.dir, 'empty');
  await mkdir(withTools);
  await mkdir(withoutTools);
  for (const tool of ['nft', 'conntrack']) await writeFile(join(withTools, tool), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
});

const load = async (yaml: string, searchPath = withTools) => (await fixture.load(yaml, { searchPath })).config;
const problems = (yaml: string, searchPath = withTools) => fixture.problems(yaml, { searchPath });

const config = (gateways: string, extra = '') => `gateways:\n${gateways}check_sites: [198.51.100.1]\n${extra}`;
const MARKED =
  '  isp1: {ip: 192.0.2.1, dev: wan_1, priority: 1, mark: 0x1, table: uplink1}\n  isp2: {ip: 192.0.2.5, dev: wan-2, priority: 2, mark: 0x2, table: 102}\n';
const NFT = 'nftables: {enabled: true}\n';
const PROBE1 = { mark: 0x4e470001, table: 195, ports: { from: 61000, to: 61063 } };
const PROBE2 = { mark: 0x4e470002, table: 196, ports: { from: 61064, to: 61127 } };

describe('firewall config', () => {
  it('fills in the defaults and resolves the gateway tables once', async () => {
    const loaded = await load(config(MARKED, `${NFT}conntrack: {}\n`));
    expect(loaded.nftables).toEqual({
      enabled: true,
      table: 'inet netgwm',
      mask: 0xff,
      mark_forwarded: true,
      mark_local: true,
      rule_pref: 1100,
      verify_interval: 300,
    });
    expect(loaded.conntrack).toEqual({ flush: 'all' });
    expect(loaded.gateways).toEqual([
      { name: 'isp1', ip: '192.0.2.1', dev: 'wan_1', priority: 1, mark: 1, table: 'uplink1', table_id: 101, probe: PROBE1 },
      { name: 'isp2', ip: '192.0.2.5', dev: 'wan-2', priority: 2, mark: 2, table: 102, table_id: 102, probe: PROBE2 },
    ]);
  });

  it('without the sections, neither is set and no tool is needed', async () => {
    const loaded = await load(config('  isp1: {ip: 192.0.2.1, priority: 1}\n'), withoutTools);
    expect(loaded.nftables).toBeUndefined();
    expect(loaded.conntrack).toBeUndefined();
  });

  it('accepts marks for conntrack.flush: old without an nftables section', async () => {
    const loaded = await load(
      config(
        '  isp1: {ip: 192.0.2.1, priority: 1, mark: 0x1}\n  isp2: {ip: 192.0.2.5, priority: 2, mark: 0x2}\n',
        'conntrack: {flush: old}\n',
      ),
    );
    expect(loaded.conntrack).toEqual({ flush: 'old' });
  });

  it.each([
    [
      'colliding marks',
      config(MARKED.replace('mark: 0x2', 'mark: 0x1'), NFT),
      ['FILE: gateways.isp2.mark: 0x1 is also the mark of gateway "isp1"; give every gateway its own mark'],
    ],
    [
      'a mark outside the mask',
      config(MARKED.replace('mark: 0x2', 'mark: 0x100'), NFT),
      ['FILE: gateways.isp2.mark: expected a mark inside nftables.mask (0xff), got 0x100'],
    ],
    [
      'a mark outside the default mask',
      config(
        '  isp1: {ip: 192.0.2.1, priority: 1, mark: 0x1}\n  isp2: {ip: 192.0.2.5, priority: 2, mark: 0x200}\n',
        'conntrack: {flush: old}\n',
      ),
      ['FILE: gateways.isp2.mark: expected a mark inside the default mask 0xff (see nftables.mask), got 0x200'],
    ],
    [
      'a mark equal to a probe mark',
      config(MARKED, 'nftables: {mask: 0xffffffff}\n').replace('mark: 0x1,', 'mark: 0x4e470002,'),
      [
        'FILE: gateways.isp1.mark: 0x4e470002 is the probe mark of gateway "isp2" (probe.mark + 2), so isp1\'s traffic would be routed as probes; pick another mark or another probe.mark',
      ],
    ],
    [
      'a table that is a probe table',
      config(MARKED.replace('table: 102', 'table: 196'), NFT),
      [
        'FILE: gateways.isp2.table: expected the uplink\'s own routing table, got 196, which is the probe table of gateway "isp2" (check_table + 2); pick another table or another check_table',
      ],
    ],
    [
      'a missing mark with nftables',
      config(MARKED.replace(', mark: 0x2, table: 102', ''), NFT),
      ['FILE: gateways.isp2.mark: missing; with nftables enabled every gateway needs its own mark (e.g. 0x2)'],
    ],
    [
      'a missing mark with flush: old',
      config('  isp1: {ip: 192.0.2.1, priority: 1, mark: 0x1}\n  isp2: {ip: 192.0.2.5, priority: 2}\n', 'conntrack: {flush: old}\n'),
      ['FILE: gateways.isp2.mark: missing; with conntrack.flush: old every gateway needs its own mark (e.g. 0x2)'],
    ],
    [
      'a table that is not declared',
      config(MARKED.replace('table: uplink1', 'table: uplink9'), NFT),
      [
        'FILE: gateways.isp1.table: routing table "uplink9" is not declared in /etc/iproute2/rt_tables or rt_tables.d/*.conf; declare the uplink\'s table there (e.g. "101 uplink9"); netgwm fills it',
      ],
    ],
    [
      'a table of two gateways',
      config(MARKED.replace('table: 102', 'table: uplink1'), NFT),
      ['FILE: gateways.isp2.table: "uplink1" is also the table of gateway "isp1"; give every uplink its own routing table'],
    ],
    [
      'the main table',
      config(MARKED.replace('table: uplink1', 'table: main'), NFT),
      ['FILE: gateways.isp1.table: expected the uplink\'s own routing table, got "main", which is the system table main (254)'],
    ],
    [
      'the check table',
      config(MARKED.replace('table: 102', 'table: 194'), NFT),
      [
        "FILE: gateways.isp2.table: expected the uplink's own routing table, got 194, which is check_table (194); netgwm empties that table on every run",
      ],
    ],
    [
      'a table without an nftables section',
      config(MARKED.replace(', table: 102', '')),
      ['FILE: gateways.isp1.table: only used by the nftables section, which is missing; add `nftables: {enabled: true}` or remove the key'],
    ],
    [
      'a mark that is not a number',
      config(MARKED.replace('mark: 0x2', 'mark: two'), NFT),
      [expect.stringMatching(/^FILE: gateways\.isp2\.mark: /)],
    ],
    [
      'a bad table name',
      config(MARKED, 'nftables: {table: "bridge netgwm"}\n'),
      ['FILE: nftables.table: expected "inet NAME" or "ip NAME", e.g. "inet netgwm", got "bridge netgwm"'],
    ],
    [
      'rule_pref before the probe rule',
      config(MARKED, 'nftables: {rule_pref: 900}\n'),
      [
        'FILE: nftables.rule_pref: expected a preference above probe.rule_pref (1000), got 900: probes must be routed before marked traffic',
      ],
    ],
    [
      'an unknown flush',
      config(MARKED, 'conntrack: {flush: tcp}\n'),
      ['FILE: conntrack.flush: expected one of "all", "udp", "old", "none", got "tcp"'],
    ],
    [
      'an unknown nftables key',
      config(MARKED, 'nftables: {enable: true}\n'),
      ['FILE: nftables.enable: unknown key; check its spelling (see netgwm(8))'],
    ],
  ])('reports %s', async (_, yaml, expected) => {
    expect(await problems(yaml)).toEqual(expected);
  });

  it('reports missing nft and conntrack commands at load time, not in the middle of a switch', async () => {
    expect(await problems(config(MARKED, `${NFT}conntrack: {flush: udp}\n`), withoutTools)).toEqual([
      `FILE: nftables: the nft command is not in PATH (${withoutTools}); install the nftables package, or remove the section`,
      `FILE: conntrack.flush: the conntrack command is not in PATH (${withoutTools}); install the conntrack package, or set flush: none`,
    ]);
    expect((await load(config('  isp1: {ip: 192.0.2.1, priority: 1}\n', 'conntrack: {flush: none}\n'), withoutTools)).conntrack).toEqual({
      flush: 'none',
    });
  });
});
