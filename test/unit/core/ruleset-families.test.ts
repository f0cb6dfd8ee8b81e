// The inet table of a dual-stack config: IPv4 connections get the IPv4 decision's mark, IPv6
// connections the IPv6 decision's; an IPv4 config renders exactly as before.
import { describe, expect, it } from 'vitest';
import { renderRuleset, type RulesetInput } from '../../../src/core/ruleset.js';

const base: RulesetInput = {
  table: 'inet netgwm',
  mask: 0xff,
  markForwarded: true,
  markLocal: true,
  gateways: [
    { name: 'isp1', mark: 1, dev: 'wan1' },
    { name: 'isp2', mark: 2, dev: 'wan2' },
  ],
  active: 'isp1',
};

const activeLines = (text: string) => text.split('\n').filter((line) => line.includes('comment "active '));

describe('renderRuleset by family', () => {
  it.each([
    ['IPv4 only (as before IPv6)', base, ['new forwarded', 'new local'].map((what) => `active isp1: ${what} connections`)],
    [
      'dual-stack, each family on its own gateway',
      { ...base, ipv6: true, active6: 'isp2' },
      [
        'active isp1: new IPv4 forwarded connections',
        'active isp2: new IPv6 forwarded connections',
        'active isp1: new IPv4 local connections',
        'active isp2: new IPv6 local connections',
      ],
    ],
    [
      'dual-stack with no IPv6 gateway in use: IPv6 connections get no mark',
      { ...base, ipv6: true },
      ['active isp1: new IPv4 forwarded connections', 'active isp1: new IPv4 local connections'],
    ],
  ])('%s', (_name, input, comments) => {
    const lines = activeLines(renderRuleset(input));
    expect(lines.map((line) => /comment "(.*)"/.exec(line)![1])).toEqual(comments);
  });

  it('matches each family by nfproto and sets its gateway mark', () => {
    const lines = activeLines(renderRuleset({ ...base, ipv6: true, active6: 'isp2' }));
    expect(lines[0]).toContain('meta nfproto ipv4 fib daddr type != local ct mark set ct mark and 0xffffff00 or 0x1');
    expect(lines[1]).toContain('meta nfproto ipv6 fib daddr type != local ct mark set ct mark and 0xffffff00 or 0x2');
    expect(renderRuleset(base)).not.toContain('nfproto');
  });
});
