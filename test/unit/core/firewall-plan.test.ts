import { describe, expect, it } from 'vitest';
import { desiredMarkRules, firewallWork, ownedPrefs, planMarkRules, ruleWords, type MarkRule } from '../../../src/core/firewall-plan.js';
import type { FirewallRecord } from '../../../src/core/types.js';

const gateways = [
  { mark: 0x1, table_id: 101 },
  { mark: 0x2, table_id: 102 },
  { mark: 0x3 }, // no table: marked, but routed by the main table
];

describe('desiredMarkRules', () => {
  it('puts the main table (without its default) first, then one fwmark rule per gateway with a table', () => {
    expect(desiredMarkRules(gateways, 0xff, 1100).map(ruleWords)).toEqual([
      'pref 1100 lookup 254 suppress_prefixlength 0',
      'pref 1101 fwmark 0x1/0xff lookup 101',
      'pref 1101 fwmark 0x2/0xff lookup 102',
    ]);
  });

  it('wants no rule at all when no gateway names a table', () => {
    expect(desiredMarkRules([{ mark: 0x1 }, { mark: 0x2 }], 0xff, 1100)).toEqual([]);
  });
});

describe('planMarkRules', () => {
  const desired = desiredMarkRules(gateways, 0xff, 1100);

  it('changes nothing when the rules are there', () => {
    expect(planMarkRules([...desired], desired, ownedPrefs(1100, 1100))).toEqual({ remove: [], add: [] });
  });

  it('adds what is missing and removes what is ours and unwanted, leaving other preferences alone', () => {
    const existing: MarkRule[] = [
      desired[0]!,
      { pref: 1101, fwmark: 0x1, mask: 0xff, table: 109 }, // table changed in the config
      { pref: 1101, fwmark: 0x9, mask: 0xff, table: 109 }, // gateway removed from the config
      { pref: 1000, fwmark: 0x4e470000, mask: 0xffffffff, table: 194 }, // the probe rule: not ours here
    ];
    const plan = planMarkRules(existing, desired, ownedPrefs(1100, undefined));
    expect(plan.remove.map(ruleWords)).toEqual(['pref 1101 fwmark 0x1/0xff lookup 109', 'pref 1101 fwmark 0x9/0xff lookup 109']);
    expect(plan.add.map(ruleWords)).toEqual(['pref 1101 fwmark 0x1/0xff lookup 101', 'pref 1101 fwmark 0x2/0xff lookup 102']);
  });

  it('removes the rules of a previous rule_pref', () => {
    const old = desiredMarkRules(gateways, 0xff, 1200);
    const plan = planMarkRules(old, desired, ownedPrefs(1100, 1200));
    expect(plan.remove).toEqual(old);
    expect(plan.add).toEqual(desired);
  });

  it('removes all of ours when nftables is disabled', () => {
    expect(planMarkRules(desired, [], ownedPrefs(1100, 1100))).toEqual({ remove: desired, add: [] });
  });
});

describe('firewallWork', () => {
  const record: FirewallRecord = {
    hash: 'h1',
    listing: 'l1',
    table: 'inet netgwm',
    rulePref: 1100,
    netns: 'boot/net:[1]',
    verifiedAt: 1_000_000,
  };
  const wanted = { hash: 'h1', netns: 'boot/net:[1]' };
  const minute = 60_000;

  it.each([
    ['nothing was loaded yet', undefined, wanted, 1_000_000, 'load'],
    ['the ruleset changed (another active gateway, a config change)', record, { ...wanted, hash: 'h2' }, 1_000_000, 'load'],
    ['the table was loaded in another boot or namespace', record, { ...wanted, netns: 'boot2/net:[1]' }, 1_000_000, 'load'],
    ['nothing changed and it was verified recently', record, wanted, 1_000_000 + 4 * minute, 'none'],
    ['nothing changed but verify_interval passed', record, wanted, 1_000_000 + 5 * minute, 'verify'],
    ['the clock went back', record, wanted, 1_000_000 - minute, 'verify'],
  ] as const)('%s: %s', (_, previous, want, now, expected) => {
    expect(firewallWork(previous, want, now, 5 * minute)).toBe(expected);
  });

  it('verifies every cycle with verify_interval 0', () => {
    expect(firewallWork(record, wanted, record.verifiedAt, 0)).toBe('verify');
  });
});
