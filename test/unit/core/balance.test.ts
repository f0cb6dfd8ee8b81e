// The shares of balanced tiers and the targets of rules, driven through the real decision
// (chooseGateway) on a virtual clock: each step is a set of gateways up at a time, and what
// new connections get afterwards.
import { describe, expect, it } from 'vitest';
import {
  balanceOf,
  describeTarget,
  isBalanced,
  nextMemberStableAt,
  sharePercents,
  type Balance,
  type PolicyRule,
} from '../../../src/core/balance.js';
import { chooseGateway } from '../../../src/core/decide.js';
import { emptyState, type BalanceRecord, type Gateway, type State } from '../../../src/core/types.js';

const probe = (i: number) => ({ mark: 0x4e470000 + i, table: 194 + i, ports: { from: 60936 + 64 * i, to: 60999 + 64 * i } });
const gateways: Gateway[] = [
  { name: 'isp1', ip: '192.0.2.1', priority: 1, weight: 3, mark: 1, table_id: 101, probe: probe(1) },
  { name: 'isp2', ip: '192.0.2.5', priority: 1, weight: 1, mark: 2, table_id: 102, probe: probe(2) },
  { name: 'lte', ip: '192.0.2.9', priority: 2, mark: 3, table_id: 103, probe: probe(3) },
  { name: 'voip', ip: '192.0.2.13', priority: 3, mark: 4, table_id: 104, probe: probe(4) },
];
const MIN_UPTIME_MS = 60_000;
const T0 = 1_800_000_000_000;

interface Step {
  /** Seconds on the virtual clock. */
  t: number;
  up: string[];
  /** The gateway the default route uses afterwards. */
  route: string;
  /** What the default gives new connections: `isp1` or `isp1 3, isp2 1`. */
  shares: string;
  /** Per rule. */
  rules?: string[];
  left?: string[];
}

/** Runs the decision and the balance step by step, as a cycle does. */
function play(steps: Step[], rules: PolicyRule[] = [], mode = 'auto'): void {
  let state: State = emptyState();
  let current: string | undefined;
  let previous: BalanceRecord | undefined;
  for (const [i, step] of steps.entries()) {
    const now = T0 + step.t * 1000;
    const observations = Object.fromEntries(
      gateways.map((g) => [
        g.name,
        { up: step.up.includes(g.name), sites: [{ site: '198.51.100.1', answered: step.up.includes(g.name) }] },
      ]),
    );
    const decision = chooseGateway({
      gateways,
      minUptimeMs: MIN_UPTIME_MS,
      checkAllGateways: true,
      mode,
      state,
      current,
      observations,
      now,
    });
    state = decision.state;
    current = decision.target?.name ?? current;
    const balance = balanceOf({
      gateways,
      rules,
      records: state.gateways,
      previous,
      route: current,
      pinned: mode !== 'auto',
      now,
      minUptimeMs: MIN_UPTIME_MS,
    });
    previous = balance.record;
    const where = `step ${i} (t=${step.t})`;
    expect(current, where).toBe(step.route);
    expect(shown(balance, balance.default), where).toBe(step.shares);
    if (step.rules)
      expect(
        balance.rules.map((target) => shown(balance, target)),
        where,
      ).toEqual(step.rules);
    expect(balance.left, where).toEqual(step.left ?? []);
  }
}

function shown(balance: Balance, target: Balance['default']): string {
  if (target === undefined) return 'none';
  if ('gateway' in target) return target.gateway;
  return balance.shares[String(target.tier)]!.map((member) => `${member.name} ${member.weight}`).join(', ');
}

const ALL = ['isp1', 'isp2', 'lte', 'voip'];

describe('balanceOf: a 3:1 tier over the decision', () => {
  it('starts balanced over every member up (none is stable after a start), keeps established members', () => {
    play([
      { t: 0, up: ALL, route: 'isp1', shares: 'isp1 3, isp2 1' },
      { t: 10, up: ALL, route: 'isp1', shares: 'isp1 3, isp2 1' },
    ]);
  });

  it('a member going down leaves at once; back, it rejoins only when stable (min_uptime)', () => {
    play([
      { t: 0, up: ALL, route: 'isp1', shares: 'isp1 3, isp2 1' },
      { t: 100, up: ['isp1', 'lte', 'voip'], route: 'isp1', shares: 'isp1', left: ['isp2'] },
      { t: 110, up: ALL, route: 'isp1', shares: 'isp1' },
      { t: 169, up: ALL, route: 'isp1', shares: 'isp1' },
      { t: 170, up: ALL, route: 'isp1', shares: 'isp1 3, isp2 1' },
    ]);
  });

  it("the route's member going down moves the route within the tier; it never takes the route back (equal priority)", () => {
    play([
      { t: 0, up: ALL, route: 'isp1', shares: 'isp1 3, isp2 1' },
      { t: 100, up: ['isp2', 'lte', 'voip'], route: 'isp2', shares: 'isp2', left: ['isp1'] },
      { t: 110, up: ALL, route: 'isp2', shares: 'isp2' },
      { t: 170, up: ALL, route: 'isp2', shares: 'isp1 3, isp2 1' },
    ]);
  });

  it('every member down: the next tier takes over as failover does; the tier comes back when a member is stable', () => {
    play([
      { t: 0, up: ALL, route: 'isp1', shares: 'isp1 3, isp2 1' },
      { t: 100, up: ['lte', 'voip'], route: 'lte', shares: 'lte', left: ['isp1', 'isp2'] },
      { t: 110, up: ALL, route: 'lte', shares: 'lte' },
      // Stable at 170: the route fails back to isp1 and the tier is entered with its stable members.
      { t: 170, up: ALL, route: 'isp1', shares: 'isp1 3, isp2 1', left: ['lte'] },
    ]);
  });

  it('a pinned route is not balanced', () => {
    play([{ t: 0, up: ALL, route: 'isp2', shares: 'isp2' }], [], 'isp2');
  });

  it('everything down: the route and its mark stay (as today), nothing left', () => {
    play([
      { t: 0, up: ['isp1'], route: 'isp1', shares: 'isp1' },
      { t: 10, up: [], route: 'isp1', shares: 'isp1' },
    ]);
  });
});

describe('balanceOf: rules', () => {
  const rules: PolicyRule[] = [
    { proto: 'udp', dport: 5060, use: ['voip', 'lte'] },
    { saddr: '203.0.113.128/25', use: 'lte' },
    { daddr: '198.51.100.0/24', use: { tier: 1 } },
    { iif: 'guest', use: 'default' },
  ];

  it('each rule gets its first gateway up; down, the next; back, only when stable; none up: the default', () => {
    play(
      [
        { t: 0, up: ALL, route: 'isp1', shares: 'isp1 3, isp2 1', rules: ['voip', 'lte', 'isp1 3, isp2 1', 'isp1 3, isp2 1'] },
        {
          t: 100,
          up: ['isp1', 'isp2', 'lte'],
          route: 'isp1',
          shares: 'isp1 3, isp2 1',
          rules: ['lte', 'lte', 'isp1 3, isp2 1', 'isp1 3, isp2 1'],
          left: ['voip'],
        },
        { t: 110, up: ALL, route: 'isp1', shares: 'isp1 3, isp2 1', rules: ['lte', 'lte', 'isp1 3, isp2 1', 'isp1 3, isp2 1'] },
        { t: 170, up: ALL, route: 'isp1', shares: 'isp1 3, isp2 1', rules: ['voip', 'lte', 'isp1 3, isp2 1', 'isp1 3, isp2 1'] },
        {
          t: 200,
          up: ['isp1', 'isp2'],
          route: 'isp1',
          shares: 'isp1 3, isp2 1',
          rules: ['isp1 3, isp2 1', 'isp1 3, isp2 1', 'isp1 3, isp2 1', 'isp1 3, isp2 1'],
          left: ['lte', 'voip'],
        },
      ],
      rules,
    );
  });
});

describe('helpers', () => {
  it('isBalanced: a shared priority or any rule', () => {
    expect(isBalanced(gateways, undefined)).toBe(true);
    expect(isBalanced([gateways[0]!, gateways[2]!], [])).toBe(false);
    expect(isBalanced([gateways[2]!], [{ use: 'lte' }])).toBe(true);
  });

  it('sharePercents and describeTarget', () => {
    const shares = {
      '1': [
        { name: 'isp1', weight: 3 },
        { name: 'isp2', weight: 1 },
      ],
    };
    expect(sharePercents(shares['1'])).toEqual({ isp1: 75, isp2: 25 });
    expect(describeTarget({ tier: 1 }, shares)).toBe('tier 1: isp1 75 %, isp2 25 %');
    expect(describeTarget({ gateway: 'lte' }, shares)).toBe('lte');
    expect(describeTarget(undefined, shares)).toBe('no mark');
  });

  it('nextMemberStableAt: the earliest gateway up that is not stable yet', () => {
    const records = {
      a: { up: true, since: 1000, checkedAt: 5000 },
      b: { up: true, since: 3000, checkedAt: 5000 },
      c: { up: false, since: 0, checkedAt: 5000 },
    };
    expect(nextMemberStableAt(records, 5000, 10_000)).toBe(11_000);
    expect(nextMemberStableAt(records, 20_000, 10_000)).toBeUndefined();
  });
});

describe('balanceOf: one share per tier', () => {
  it("a rule using the default's tier draws over the same share, the route's gateway included", () => {
    const records = {
      isp1: { up: true, since: T0, checkedAt: T0 + 10_000 },
      isp2: { up: true, since: T0 - 600_000, checkedAt: T0 + 10_000 },
    };
    // isp1 carries the route but is not stable and was not in the share before.
    const balance = balanceOf({
      gateways,
      rules: [{ use: { tier: 1 } }],
      records,
      previous: { tiers: { '1': ['isp2'] }, rules: [null], used: ['isp2'] },
      route: 'isp1',
      pinned: false,
      now: T0 + 10_000,
      minUptimeMs: MIN_UPTIME_MS,
    });
    expect(balance.default).toEqual({ tier: 1 });
    expect(balance.rules).toEqual([{ tier: 1 }]);
    expect(balance.shares['1']!.map((member) => member.name)).toEqual(['isp1', 'isp2']);
  });
});
