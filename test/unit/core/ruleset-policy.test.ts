// The nft table with balanced tiers, sticky sources and policy rules: chain `choose` (the rules,
// then the default), `tier_P` (a weighted numgen draw), `stick_M` and `gw_M`. Each rendering is
// also checked by nft itself (`nft -c`, in a network namespace of its own: nothing is loaded).
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { renderRuleset, type RulesetInput } from '../../../src/core/ruleset.js';

const base: RulesetInput = {
  table: 'inet netgwm',
  mask: 0xff,
  markForwarded: true,
  markLocal: true,
  gateways: [
    { name: 'isp1', mark: 0x1, dev: 'wan_1' },
    { name: 'isp2', mark: 0x2, dev: 'wan-2' },
    { name: 'lte', mark: 0x13 },
  ],
  active: 'isp1',
};
const tier = {
  '1': [
    { name: 'isp1', weight: 3 },
    { name: 'isp2', weight: 1 },
  ],
};

/** Whether nft accepts the file (checked, never loaded, in a throw-away namespace). */
function nftAccepts(text: string): string {
  try {
    execFileSync('unshare', ['-n', 'nft', '-c', '-f', '-'], { input: text, stdio: ['pipe', 'pipe', 'pipe'] });
    return 'ok';
  } catch (error) {
    return String((error as { stderr?: Buffer }).stderr ?? error);
  }
}

const chainOf = (text: string, name: string) => {
  const lines = text.split('\n');
  const start = lines.indexOf(`\tchain ${name} {`);
  return lines.slice(start + 2, lines.indexOf('\t}', start)).map((line) => line.trim());
};

describe('renderRuleset with a balanced tier', () => {
  const text = renderRuleset({ ...base, policy: { balance: { default: { tier: 1 }, rules: [], shares: tier }, rules: [] } });

  it('sends new connections through `choose` to a 3:1 numgen draw over the marks', () => {
    expect(text).toContain(
      'ct state new ct mark and 0xff == 0x0 fib daddr type != local jump choose comment "new forwarded connections: netgwm\'s rules, then the default"',
    );
    expect(text).toContain('ct state new ct mark and 0xff == 0x0 jump choose comment "new local connections');
    expect(chainOf(text, 'choose')).toEqual(['goto tier_1 comment "default: tier 1"']);
    expect(chainOf(text, 'tier_1')).toEqual(['numgen random mod 4 vmap { 0-2 : goto gw_1, 3 : goto gw_2 } comment "isp1 3, isp2 1"']);
    expect(chainOf(text, 'gw_13')).toEqual(['ct mark set ct mark and 0xffffff00 or 0x13']);
    expect(text).not.toContain('"active ');
    expect(nftAccepts(text)).toBe('ok');
  });

  it('keeps a source on its member with sticky: a set per member, refreshed on each new connection', () => {
    const sticky = renderRuleset({
      ...base,
      gateways: base.gateways.map((g) => ({ ...g, sticky: 600 })),
      policy: { balance: { default: { tier: 1 }, rules: [], shares: tier }, rules: [] },
    });
    expect(chainOf(sticky, 'tier_1')).toEqual([
      'ip saddr @sticky_1 goto stick_1',
      'ip saddr @sticky_2 goto stick_2',
      'numgen random mod 4 vmap { 0-2 : goto stick_1, 3 : goto stick_2 } comment "isp1 3, isp2 1"',
    ]);
    expect(chainOf(sticky, 'stick_2')).toEqual(['update @sticky_2 { ip saddr }', 'goto gw_2']);
    expect(sticky).toContain('\tset sticky_1 {\n\t\ttype ipv4_addr\n\t\tflags dynamic,timeout\n\t\ttimeout 600s\n');
    expect(nftAccepts(sticky)).toBe('ok');
  });

  it('carries sticky sources over a reload, their time left capped by the timeout', () => {
    const carried = renderRuleset({
      ...base,
      gateways: base.gateways.map((g) => ({ ...g, sticky: 600 })),
      policy: {
        balance: { default: { tier: 1 }, rules: [], shares: tier },
        rules: [],
        sources: {
          isp2: [
            { address: '203.0.113.2', expiresS: 412 },
            { address: '203.0.113.3', expiresS: 9999 },
          ],
        },
      },
    });
    expect(carried).toContain(
      '\tset sticky_2 {\n\t\ttype ipv4_addr\n\t\tflags dynamic,timeout\n\t\ttimeout 600s\n\t\telements = { 203.0.113.2 timeout 600s expires 412s, 203.0.113.3 timeout 600s expires 600s }\n',
    );
    expect(carried).not.toMatch(/set sticky_1 \{[^}]*elements/);
    expect(nftAccepts(carried)).toBe('ok');
  });
});

describe('renderRuleset with rules', () => {
  const rules = [
    { proto: 'udp' as const, dport: [5060, '10000-20000'], use: ['lte'] },
    { saddr: ['203.0.113.128/25', '203.0.113.7'], daddr: '198.51.100.0/24', iif: 'guest', use: 'isp2' },
    { dport: 22, use: 'default' },
    { proto: 'icmp' as const, use: { tier: 1 } },
    { use: 'lte' },
  ];
  const text = renderRuleset({
    ...base,
    policy: {
      balance: {
        default: { gateway: 'isp1' },
        rules: [{ gateway: 'lte' }, { gateway: 'isp2' }, { gateway: 'isp1' }, { tier: 1 }, undefined],
        shares: tier,
      },
      rules,
    },
  });

  it('renders each rule in order, then the default', () => {
    expect(chainOf(text, 'choose')).toEqual([
      'udp dport { 5060, 10000-20000 } goto gw_13 comment "rule 1: lte"',
      'iifname "guest" ip saddr { 203.0.113.128/25, 203.0.113.7 } ip daddr 198.51.100.0/24 goto gw_2 comment "rule 2: isp2"',
      'meta l4proto { tcp, udp } th dport 22 goto gw_1 comment "rule 3: isp1"',
      'meta l4proto icmp goto tier_1 comment "rule 4: tier 1"',
      'return comment "rule 5: no mark"',
      'goto gw_1 comment "default: isp1"',
    ]);
    expect(nftAccepts(text)).toBe('ok');
  });

  it('gives no rule to local connections when mark_local is off', () => {
    const off = renderRuleset({
      ...base,
      markLocal: false,
      policy: { balance: { default: { gateway: 'isp1' }, rules: [], shares: {} }, rules: [] },
    });
    expect(off).not.toContain('new local connections');
    expect(nftAccepts(off)).toBe('ok');
  });
});
