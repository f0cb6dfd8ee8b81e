// Balanced tiers (`weight`, `sticky`) and policy `rules` in the config: checked once at load time.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { configFixture, RT_TABLES, type ConfigFixture } from './fixture.js';

let fixture: ConfigFixture;
let withTools: string;

beforeAll(async () => {
  fixture = await configFixture(`${RT_TABLES}101\tuplink1\n102 uplink2\n103 uplink3\n`);
  withTools = join(fixture.dir, 'bin');
  await mkdir(withTools);
  for (const tool of ['nft', 'conntrack']) await writeFile(join(withTools, tool), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
});

const load = async (yaml: string) => (await fixture.load(yaml, { searchPath: withTools })).config;
const problems = (yaml: string) => fixture.problems(yaml, { searchPath: withTools });
const config = (gateways: string, extra = 'nftables: {}\n') => `gateways:\n${gateways}check_sites: [198.51.100.1]\n${extra}`;
const TIER =
  '  isp1: {ip: 192.0.2.1, priority: 1, weight: 3, mark: 1, table: uplink1}\n' +
  '  isp2: {ip: 192.0.2.5, priority: 1, weight: 1, mark: 2, table: uplink2}\n' +
  '  lte: {ip: 192.0.2.9, priority: 2, mark: 3, table: uplink3}\n';

describe('balanced tiers', () => {
  it('loads gateways of one priority with weights, the first in the file first', async () => {
    const loaded = await load(config(TIER));
    expect(loaded.gateways.map((g) => [g.name, g.priority, g.weight])).toEqual([
      ['isp1', 1, 3],
      ['isp2', 1, 1],
      ['lte', 2, undefined],
    ]);
  });

  it('still refuses a shared priority without weights', async () => {
    expect(await problems(config('  isp1: {ip: 192.0.2.1, priority: 1}\n  isp2: {ip: 192.0.2.5, priority: 1, weight: 1}\n', ''))).toEqual([
      'FILE: gateways.isp2.priority: priority 1 is also used by gateway "isp1"; give every gateway its own priority, or give both a weight to balance connections over them',
    ]);
  });

  it('needs nftables, and a table for every member', async () => {
    expect(await problems(config(TIER.replace(', table: uplink2', '')))).toEqual([
      "FILE: gateways.isp2.table: missing; isp2 is in the balanced tier 1, so its marked connections need the uplink's own routing table (e.g. table: isp2, declared in rt_tables)",
    ]);
    expect(await problems(config(TIER.replace(/, table: uplink\d/g, '').replace(/, mark: \d/g, ''), ''))).toEqual([
      'FILE: gateways.isp1.weight: the balanced tier 1 (isp1, isp2) needs the nftables section, enabled',
      expect.stringContaining('gateways.isp1.table: missing'),
      expect.stringContaining('gateways.isp2.table: missing'),
    ]);
  });

  it('sticky: members agree, and only tier members have it', async () => {
    expect((await load(config(TIER.replace(/weight: (\d)/g, 'weight: $1, sticky: 300')))).gateways[0]!.sticky).toBe(300);
    expect(await problems(config(TIER.replace('weight: 3', 'weight: 3, sticky: 300').replace('mark: 3', 'mark: 3, sticky: 5')))).toEqual([
      'FILE: gateways.isp2.sticky: the members of tier 1 (isp1, isp2) must have the same sticky (or none), got 300 and none',
      'FILE: gateways.lte.sticky: only members of a balanced tier (gateways of one priority with a weight) are sticky',
    ]);
  });
});

describe('rules', () => {
  it('loads matches and policies', async () => {
    const loaded = await load(
      config(
        TIER,
        'nftables: {}\nrules:\n  - {proto: udp, dport: [5060, "10000-20000"], use: [lte, isp1]}\n  - {saddr: 203.0.113.0/25, iif: guest, use: lte}\n  - {daddr: [198.51.100.7], use: {tier: 1}}\n  - {dport: 22, use: default}\n',
      ),
    );
    expect(loaded.rules).toEqual([
      { proto: 'udp', dport: [5060, '10000-20000'], use: ['lte', 'isp1'] },
      { saddr: '203.0.113.0/25', iif: 'guest', use: 'lte' },
      { daddr: ['198.51.100.7'], use: { tier: 1 } },
      { dport: 22, use: 'default' },
    ]);
  });

  it('says what is wrong with a rule, where', async () => {
    expect(
      await problems(
        config(
          TIER,
          'nftables: {}\nrules:\n  - {proto: icmp, dport: 1, use: lte}\n  - {saddr: 203.0.113.0/33, use: nosuch}\n  - {dport: "9-1", use: {tier: 7}}\n',
        ),
      ),
    ).toEqual([
      'FILE: rules.0.dport: dport needs proto tcp or udp (or no proto: both)',
      expect.stringMatching(/^FILE: rules\.1\.saddr: /),
      expect.stringMatching(/^FILE: rules\.2\.dport: /),
    ]);
    expect(await problems(config(TIER, 'nftables: {}\nrules:\n  - {use: nosuch}\n  - {use: {tier: 7}}\n'))).toEqual([
      'FILE: rules.0.use: expected "default", a gateway (isp1, isp2, lte), a list of them or {tier: PRIORITY}, got "nosuch"',
      'FILE: rules.1.use: expected the priority of a tier, got 7; the gateways have 1, 2',
    ]);
    expect(await problems(config(TIER, 'rules:\n  - {use: lte}\n'))).toEqual(
      expect.arrayContaining([
        expect.stringContaining('gateways.isp1.weight: the balanced tier 1'),
        'FILE: rules.0: rules need the nftables section, enabled (they are rendered into netgwm’s nft table)',
      ]),
    );
  });
});
