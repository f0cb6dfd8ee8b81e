// Which gateways new connections get besides the default route's: the shares of balanced tiers
// (gateways of one priority that all have a `weight`) and the targets of policy rules. Pure: a
// function of the config, the gateways' up/down records after the decision, what was in use
// before, and the time.
//
// The default route still needs ONE gateway (chooseGateway picks it, as in failover); balancing
// happens in nft: a new connection gets the mark of a member drawn in proportion to the weights,
// and each member's fwmark rule sends it to the member's own table. A member that goes down
// leaves its tier's share at once; one that comes back joins again only when it is stable
// (up for min_uptime), as a failback waits. When every member is down, the decision has already
// moved the route to the next tier: that tier is then the default's.
import { isStable } from './decide.js';
import { own } from './records.js';
import type { BalanceRecord, Gateway, GatewayRecord } from './types.js';

/** Where a policy sends connections: `default`, a gateway, gateways in failover order, or a tier. */
export type Policy = string | string[] | { tier: number };

export interface RuleMatch {
  saddr?: string | string[];
  daddr?: string | string[];
  proto?: 'tcp' | 'udp' | 'icmp';
  dport?: number | string | Array<number | string>;
  iif?: string;
}

export interface PolicyRule extends RuleMatch {
  use: Policy;
}

/** What new connections get: one gateway's mark, or a draw over a tier's share. */
export type Target = { gateway: string } | { tier: number };

export interface Member {
  name: string;
  weight: number;
}

export interface Balance {
  /** New connections no rule matched; undefined when the default route uses no configured gateway. */
  default?: Target;
  /** Per rule, in order: its target (a rule whose gateways are all down follows the default). */
  rules: Array<Target | undefined>;
  /** Tier priority → its members in share, for every tier some target draws over (2 members or more). */
  shares: Record<string, Member[]>;
  /** What to remember for the next decision. */
  record: BalanceRecord;
  /** Gateways that were given new connections before and are not now (down, or displaced by a failback). */
  left: string[];
}

export interface BalanceInput {
  /** Best first, as the config compiles them. */
  gateways: Gateway[];
  rules: PolicyRule[];
  /** The gateways' up/down records after this decision (decision.state.gateways). */
  records: Record<string, GatewayRecord>;
  previous?: BalanceRecord;
  /** The gateway the default route uses after this decision. */
  route?: string;
  /** Mode pins the default route: no balancing for the default. */
  pinned: boolean;
  now: number;
  minUptimeMs: number;
}

export const DEFAULT_POLICY = 'default';

/** True when the config asks for more than one mark at a time: a balanced tier or a policy rule. */
export function isBalanced(gateways: Array<Pick<Gateway, 'priority' | 'weight'>>, rules: unknown[] | undefined): boolean {
  return (
    (rules?.length ?? 0) > 0 || gateways.some((gateway, i) => gateways.some((other, j) => i !== j && other.priority === gateway.priority))
  );
}

export function balanceOf(input: BalanceInput): Balance {
  const { gateways, records, previous, now, minUptimeMs } = input;
  const up = (name: string) => own(records, name)?.up === true;
  const stable = (name: string) => isStable(own(records, name), now, minUptimeMs);
  const tiers: Record<string, string[]> = {};
  const shares: Record<string, Member[]> = {};

  /** The tier's members in share: those still up that were in it, plus the stable ones. */
  const computed = new Map<number, Target | undefined>();
  // One share per tier (one chain tier_P): the default's, with the route's gateway, comes first.
  const tierTarget = (priority: number, include?: string): Target | undefined => {
    if (!computed.has(priority)) computed.set(priority, tierShare(priority, include));
    return computed.get(priority);
  };
  const tierShare = (priority: number, include?: string): Target | undefined => {
    const members = gateways.filter((gateway) => gateway.priority === priority);
    const before = own(previous?.tiers, String(priority));
    const ups = members.filter((member) => up(member.name));
    const stables = ups.filter((member) => stable(member.name));
    // Entering a tier: its stable members, or (none stable, e.g. after a reboot) every member up.
    let share = before ? ups.filter((member) => before.includes(member.name) || stable(member.name)) : stables.length > 0 ? stables : ups;
    // The route's own gateway always has its share while it is up.
    if (include !== undefined && up(include) && !share.some((member) => member.name === include))
      share = members.filter((member) => member.name === include || share.includes(member));
    tiers[String(priority)] = share.map((member) => member.name);
    if (share.length === 0) return undefined;
    if (share.length === 1) return { gateway: share[0]!.name };
    shares[String(priority)] = share.map((member) => ({ name: member.name, weight: member.weight ?? 1 }));
    return { tier: priority };
  };

  const routeGateway = gateways.find((gateway) => gateway.name === input.route);
  const inTier = (gateway: Gateway) => gateways.filter((other) => other.priority === gateway.priority).length > 1;
  const defaultTarget: Target | undefined = !routeGateway
    ? undefined
    : !input.pinned && inTier(routeGateway)
      ? (tierTarget(routeGateway.priority, routeGateway.name) ?? { gateway: routeGateway.name })
      : { gateway: routeGateway.name };

  const ruleChoices: Array<string | null> = [];
  const ruleTargets = input.rules.map((rule, index): Target | undefined => {
    const use = rule.use;
    ruleChoices[index] = null;
    if (use === DEFAULT_POLICY) return defaultTarget;
    if (typeof use === 'object' && !Array.isArray(use)) return tierTarget(use.tier) ?? defaultTarget;
    const choice = failoverChoice(typeof use === 'string' ? [use] : use, previous?.rules[index] ?? undefined, up, stable);
    ruleChoices[index] = choice ?? null;
    return choice === undefined ? defaultTarget : { gateway: choice };
  });

  const usedNames = new Set<string>();
  for (const target of [defaultTarget, ...ruleTargets]) {
    if (target === undefined) continue;
    if ('gateway' in target) usedNames.add(target.gateway);
    else for (const member of shares[String(target.tier)]!) usedNames.add(member.name);
  }
  const used = gateways.map((gateway) => gateway.name).filter((name) => usedNames.has(name));
  return {
    default: defaultTarget,
    rules: ruleTargets,
    shares,
    record: { tiers, rules: ruleChoices, used },
    left: (previous?.used ?? []).filter((name) => !usedNames.has(name)),
  };
}

/**
 * The gateway of a failover list in use: the one used before while it is up, unless an earlier
 * one is stable; with none before, the first stable one, else the first one up (as chooseGateway).
 */
function failoverChoice(
  list: string[],
  before: string | undefined,
  up: (name: string) => boolean,
  stable: (name: string) => boolean,
): string | undefined {
  const ups = list.filter(up);
  const stables = ups.filter(stable);
  if (before !== undefined && ups.includes(before)) return stables.find((name) => list.indexOf(name) < list.indexOf(before)) ?? before;
  return stables[0] ?? ups[0];
}

/** Percent of new connections each member of a share gets, rounded to one decimal. */
export function sharePercents(members: Member[]): Record<string, number> {
  const total = members.reduce((sum, member) => sum + member.weight, 0);
  return Object.fromEntries(members.map((member) => [member.name, Math.round((member.weight / total) * 1000) / 10]));
}

/** `isp1 75 %, isp2 25 %`, or the gateway's name: what a target gives new connections, for the log. */
export function describeTarget(target: Target | undefined, shares: Record<string, Member[]>): string {
  if (target === undefined) return 'no mark';
  if ('gateway' in target) return target.gateway;
  const percents = sharePercents(shares[String(target.tier)]!);
  return `tier ${target.tier}: ${Object.entries(percents)
    .map(([name, percent]) => `${name} ${percent} %`)
    .join(', ')}`;
}

/**
 * When the next gateway that is up becomes stable (epoch ms), whatever its priority: a member
 * waiting to rejoin its tier's share, or a failover list's better gateway, rejoins then.
 */
export function nextMemberStableAt(records: Record<string, GatewayRecord>, after: number, minUptimeMs: number): number | undefined {
  const times = Object.values(records)
    .filter((record) => record.up)
    .map((record) => record.since + minUptimeMs)
    .filter((at) => at > after);
  return times.length > 0 ? Math.min(...times) : undefined;
}
