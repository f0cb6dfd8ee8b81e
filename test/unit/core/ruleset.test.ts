import { describe, expect, it } from 'vitest';
import { hex, renderRemoval, renderRuleset, type RulesetInput } from '../../../src/core/ruleset.js';

const input: RulesetInput = {
  table: 'inet netgwm',
  mask: 0xff,
  markForwarded: true,
  markLocal: true,
  gateways: [
    { name: 'isp1', mark: 0x1, dev: 'wan_1' },
    { name: 'isp2', mark: 0x2, dev: 'wan-2' },
    { name: 'lte', mark: 0x3 },
  ],
  active: 'isp2',
};

describe('renderRuleset', () => {
  it('renders the whole table: inbound marks, the active mark for new connections, restore, probes untouched', () => {
    expect(
      renderRuleset(input),
    ).toBe(`# netgwm's own table, rendered from its config (\`netgwm nft --print\`); changes made here are undone.
table inet netgwm
delete table inet netgwm
table inet netgwm {
	comment "managed by netgwm"
	chain prerouting {
		type filter hook prerouting priority mangle; policy accept;
		ct state new iifname "wan_1" ct mark set ct mark and 0xffffff00 or 0x1 comment "isp1: connections arriving on wan_1"
		ct state new iifname "wan-2" ct mark set ct mark and 0xffffff00 or 0x2 comment "isp2: connections arriving on wan-2"
		ct state new ct mark and 0xff == 0x0 fib daddr type != local ct mark set ct mark and 0xffffff00 or 0x2 comment "active isp2: new forwarded connections"
		ct mark and 0xff == 0x1 meta mark set meta mark and 0xffffff00 or 0x1 comment "isp1: packets follow their connection"
		ct mark and 0xff == 0x2 meta mark set meta mark and 0xffffff00 or 0x2 comment "isp2: packets follow their connection"
		ct mark and 0xff == 0x3 meta mark set meta mark and 0xffffff00 or 0x3 comment "lte: packets follow their connection"
	}

	chain output {
		type route hook output priority mangle; policy accept;
		meta mark != 0x0 return comment "packets marked by their socket (netgwm probes) keep the mark"
		ct state new ct mark and 0xff == 0x0 ct mark set ct mark and 0xffffff00 or 0x2 comment "active isp2: new local connections"
		ct mark and 0xff == 0x1 meta mark set meta mark and 0xffffff00 or 0x1 comment "isp1: packets follow their connection"
		ct mark and 0xff == 0x2 meta mark set meta mark and 0xffffff00 or 0x2 comment "isp2: packets follow their connection"
		ct mark and 0xff == 0x3 meta mark set meta mark and 0xffffff00 or 0x3 comment "lte: packets follow their connection"
	}
}
`);
  });

  it('changes only the two active-mark rules when the active gateway changes', () => {
    const before = renderRuleset(input).split('\n');
    const after = renderRuleset({ ...input, active: 'isp1' }).split('\n');
    const changed = after.filter((line, i) => line !== before[i]);
    expect(changed).toEqual([
      '\t\tct state new ct mark and 0xff == 0x0 fib daddr type != local ct mark set ct mark and 0xffffff00 or 0x1 comment "active isp1: new forwarded connections"',
      '\t\tct state new ct mark and 0xff == 0x0 ct mark set ct mark and 0xffffff00 or 0x1 comment "active isp1: new local connections"',
    ]);
  });

  it('gives new connections no mark when no gateway is active, or when marking them is switched off', () => {
    const rules = (extra: Partial<RulesetInput>) =>
      renderRuleset({ ...input, ...extra })
        .split('\n')
        .filter((line) => line.includes('"active '));
    expect(rules({ active: undefined })).toEqual([]);
    expect(rules({ active: 'not-configured' })).toEqual([]);
    expect(rules({ markForwarded: false })).toEqual([expect.stringContaining('new local connections')]);
    expect(rules({ markLocal: false })).toEqual([expect.stringContaining('new forwarded connections')]);
  });

  it('sets plain marks under a full mask', () => {
    const text = renderRuleset({ ...input, mask: 0xffffffff, gateways: [{ name: 'isp1', mark: 0x10000, dev: 'wan_1' }], active: 'isp1' });
    expect(text).toContain('ct state new iifname "wan_1" ct mark set 0x10000 comment');
    expect(text).toContain('ct state new ct mark 0x0 fib daddr type != local ct mark set 0x10000 comment');
    expect(text).toContain('ct mark 0x10000 meta mark set 0x10000 comment');
  });

  it('removes a table loaded under another name in the same transaction', () => {
    expect(
      renderRuleset({ ...input, previousTable: 'ip old' })
        .split('\n')
        .slice(1, 5),
    ).toEqual(['table ip old', 'delete table ip old', 'table inet netgwm', 'delete table inet netgwm']);
    expect(renderRuleset({ ...input, previousTable: 'inet netgwm' })).toBe(renderRuleset(input));
  });
});

describe('renderRemoval', () => {
  it('deletes the table whether it exists or not', () => {
    expect(renderRemoval('inet netgwm')).toBe(
      '# nftables.enabled is false: netgwm removes its table.\ntable inet netgwm\ndelete table inet netgwm\n',
    );
    expect(renderRemoval('inet netgwm', 'ip old')).toContain('table ip old\ndelete table ip old\ntable inet netgwm\n');
  });
});

describe('hex', () => {
  it('prints marks as nft and ip print them, also above 0x7fffffff', () => {
    expect([hex(0), hex(0xff), hex(0x4e470000), hex(~0xff)]).toEqual(['0x0', '0xff', '0x4e470000', '0xffffff00']);
  });
});
