// The nft file netgwm loads: its one table, rendered whole from the config and the active gateway.
// Pure text in, text out; `nft -c` checks it and `nft -f` loads it as one transaction.
//
// What the table does (mwan3's CONNMARK scheme, under a mask so other users of the mark keep
// their bits):
// - a new connection arriving on an uplink gets that uplink's mark, so replies leave the same way;
// - a new connection from the LAN or the router itself gets the ACTIVE gateway's mark;
// - every packet takes its connection's mark (`meta mark` from `ct mark`), which the
//   `ip rule fwmark` entries route; so a switch moves only new connections.

import type { Balance, RuleMatch, Target } from './balance.js';
import { renderMatch } from './rule-match.js';

export interface RulesetInput {
  /** `FAMILY NAME`, e.g. `inet netgwm`. */
  table: string;
  mask: number;
  markForwarded: boolean;
  markLocal: boolean;
  /** Gateways without a mark are left out. */
  gateways: Array<{ name: string; mark?: number; dev?: string; sticky?: number }>;
  /** Name of the gateway the default route uses; new connections get its mark. */
  active?: string;
  /**
   * A dual-stack config: `active` marks new IPv4 connections only (and the policy chains, which
   * are IPv4's), `active6` — the gateway of the IPv6 default route — new IPv6 ones.
   */
  ipv6?: boolean;
  active6?: string;
  /** A table netgwm loaded under another name before: removed in the same transaction. */
  previousTable?: string;
  /**
   * Balanced tiers and policy rules (see src/core/balance.ts): new connections go through chain
   * `choose` instead of getting the active gateway's mark. Absent: the plain failover table.
   */
  policy?: {
    balance: Pick<Balance, 'default' | 'rules' | 'shares'>;
    rules: RuleMatch[];
    /**
     * Sticky sources to carry over into the new table, by member name (read from the table being
     * replaced): a reload keeps each source on its member, with the time it had left.
     */
    sources?: Record<string, Array<{ address: string; expiresS: number }>>;
  };
}

type Marked = { name: string; mark: number; dev?: string; sticky?: number };

const FULL_MASK = 0xffffffff;

export const hex = (value: number) => `0x${(value >>> 0).toString(16)}`;

/** The name of the sticky set of the gateway with this mark (`sticky_1f`). */
export const stickySetName = (mark: number) => `sticky_${(mark >>> 0).toString(16)}`;

export function renderRuleset(input: RulesetInput): string {
  const { table, mask } = input;
  const marked = input.gateways.filter((gateway): gateway is Marked => gateway.mark !== undefined);
  const active = marked.find((gateway) => gateway.name === input.active);
  const active6 = marked.find((gateway) => gateway.name === input.active6);
  const policy = input.policy && policyChains(input.policy, marked, mask);
  // A connection that already has one of our marks (it arrived on an uplink) keeps it.
  const activeRule = (wanted: boolean, match: string, what: string): string[] =>
    input.ipv6
      ? [...activeRule4(wanted, `meta nfproto ipv4 ${match}`, `IPv4 ${what}`), ...activeRule6(wanted, match, what)]
      : activeRule4(wanted, match, what);
  const activeRule6 = (wanted: boolean, match: string, what: string): string[] =>
    active6 && wanted
      ? [
          `ct state new ${markTest('ct mark', 0, mask)} meta nfproto ipv6 ${match}${setUnderMask('ct mark', active6.mark, mask)} comment "active ${active6.name}: new IPv6 ${what} connections"`,
        ]
      : [];
  const activeRule4 = (wanted: boolean, match: string, what: string): string[] =>
    policy && wanted
      ? [
          `ct state new ${markTest('ct mark', 0, mask)} ${match}jump choose comment "new ${what} connections: netgwm's rules, then the default"`,
        ]
      : active && wanted
        ? [
            `ct state new ${markTest('ct mark', 0, mask)} ${match}${setUnderMask('ct mark', active.mark, mask)} comment "active ${active.name}: new ${what} connections"`,
          ]
        : [];

  const prerouting = [
    ...marked
      .filter((gateway) => gateway.dev !== undefined)
      .map(
        (gateway) =>
          `ct state new iifname "${gateway.dev}" ${setUnderMask('ct mark', gateway.mark, mask)} comment "${gateway.name}: connections arriving on ${gateway.dev}"`,
      ),
    // Traffic to the router itself is not forwarded: its replies follow the routes, not a mark.
    ...activeRule(input.markForwarded, 'fib daddr type != local ', 'forwarded'),
    ...restoreRules(marked, mask),
  ];
  const output = [
    // Netgwm's probes carry probe.mark and must keep it to reach the check table; any other
    // socket that marks its own packets has chosen its route too.
    'meta mark != 0x0 return comment "packets marked by their socket (netgwm probes) keep the mark"',
    ...activeRule(input.markLocal, '', 'local'),
    ...restoreRules(marked, mask),
  ];
  return [
    `# netgwm's own table, rendered from its config (\`netgwm nft --print\`); changes made here are undone.`,
    ...recreate(input.previousTable !== undefined && input.previousTable !== table ? [input.previousTable] : [], table),
    `table ${table} {`,
    '\tcomment "managed by netgwm"',
    ...chain('prerouting', 'type filter hook prerouting priority mangle; policy accept;', prerouting),
    '',
    ...chain('output', 'type route hook output priority mangle; policy accept;', output),
    ...(policy ?? []),
    '}',
    '',
  ].join('\n');
}

/** The file that removes netgwm's table (and a previous one), whether they exist or not. */
export function renderRemoval(table: string, previousTable?: string): string {
  const tables = [...(previousTable !== undefined && previousTable !== table ? [previousTable] : []), table];
  return [
    '# nftables.enabled is false: netgwm removes its table.',
    ...tables.flatMap((name) => [`table ${name}`, `delete table ${name}`]),
    '',
  ].join('\n');
}

// `table X` creates the table if it is missing, so the `delete` that follows never fails; the
// whole file is one transaction, so nothing ever sees the table empty.
function recreate(stale: string[], table: string): string[] {
  return [...stale, table].flatMap((name) => [`table ${name}`, `delete table ${name}`]);
}

function chain(name: string, head: string, rules: string[]): string[] {
  return [`\tchain ${name} {`, `\t\t${head}`, ...rules.map((rule) => `\t\t${rule}`), '\t}'];
}

function restoreRules(marked: Array<{ name: string; mark: number }>, mask: number): string[] {
  return marked.map(
    (gateway) =>
      `${markTest('ct mark', gateway.mark, mask)} ${setUnderMask('meta mark', gateway.mark, mask)} comment "${gateway.name}: packets follow their connection"`,
  );
}

/**
 * The sets and chains that choose a new connection's mark: `choose` (the rules in order, then
 * the default), `tier_P` (a weighted draw over a tier's share, sticky sources first), `stick_M`
 * (remembers the source, then marks) and `gw_M` (sets gateway M's mark under the mask).
 */
function policyChains(policy: NonNullable<RulesetInput['policy']>, marked: Marked[], mask: number): string[] {
  const { balance } = policy;
  const byName = new Map(marked.map((gateway) => [gateway.name, gateway]));
  const id = (name: string) => (byName.get(name)!.mark >>> 0).toString(16);
  const gotoTarget = (target: Target | undefined): string =>
    target === undefined ? 'return' : 'gateway' in target ? `goto gw_${id(target.gateway)}` : `goto tier_${target.tier}`;
  const describe = (target: Target | undefined) =>
    target === undefined ? 'no mark' : 'gateway' in target ? target.gateway : `tier ${target.tier}`;

  const choose = [
    ...policy.rules.map(
      (match, index) =>
        `${[renderMatch(match), gotoTarget(balance.rules[index])].filter(Boolean).join(' ')} comment "rule ${index + 1}: ${describe(balance.rules[index])}"`,
    ),
    `${gotoTarget(balance.default)} comment "default: ${describe(balance.default)}"`,
  ];
  const sets: string[] = [];
  const tierChains = Object.entries(balance.shares).flatMap(([priority, members]) => {
    const sticky = byName.get(members[0]!.name)!.sticky;
    const set = (name: string) => stickySetName(byName.get(name)!.mark);
    const lookups = sticky === undefined ? [] : members.map((member) => `ip saddr @${set(member.name)} goto stick_${id(member.name)}`);
    if (sticky !== undefined)
      for (const member of members)
        sets.push(
          `\tset ${set(member.name)} {`,
          '\t\ttype ipv4_addr',
          '\t\tflags dynamic,timeout',
          `\t\ttimeout ${sticky}s`,
          ...carriedOver(policy.sources?.[member.name], sticky),
          `\t\tcomment "LAN sources that stay on ${member.name}"`,
          '\t}',
          '',
        );
    let next = 0;
    const slots = members.map((member) => {
      const [low, high] = [next, next + member.weight - 1];
      next += member.weight;
      return `${low === high ? low : `${low}-${high}`} : goto ${sticky === undefined ? 'gw' : 'stick'}_${id(member.name)}`;
    });
    const draw = `numgen random mod ${next} vmap { ${slots.join(', ')} } comment "${members.map((m) => `${m.name} ${m.weight}`).join(', ')}"`;
    const stick =
      sticky === undefined
        ? []
        : members.flatMap((member) => [
            '',
            ...chain(`stick_${id(member.name)}`, `comment "remember the source for ${member.name}"`, [
              `update @${set(member.name)} { ip saddr }`,
              `goto gw_${id(member.name)}`,
            ]),
          ]);
    return [
      '',
      ...chain(`tier_${priority}`, `comment "tier ${priority}: a weighted draw over its members up"`, [...lookups, draw]),
      ...stick,
    ];
  });
  const markChains = marked.flatMap((gateway) => [
    '',
    ...chain(`gw_${id(gateway.name)}`, `comment "${gateway.name}"`, [setUnderMask('ct mark', gateway.mark, mask)]),
  ]);
  return [
    '',
    ...sets,
    ...chain('choose', 'comment "new connections: the rules in order, then the default"', choose),
    ...tierChains,
    ...markChains,
  ];
}

/** `elements = { 203.0.113.2 timeout 600s expires 412s }`: sources kept across a reload (expiry capped by the timeout). */
function carriedOver(sources: Array<{ address: string; expiresS: number }> | undefined, timeoutS: number): string[] {
  if (!sources || sources.length === 0) return [];
  const elements = sources.map((source) => `${source.address} timeout ${timeoutS}s expires ${Math.min(source.expiresS, timeoutS)}s`);
  return [`\t\telements = { ${elements.join(', ')} }`];
}

function markTest(field: string, value: number, mask: number): string {
  return mask === FULL_MASK ? `${field} ${hex(value)}` : `${field} and ${hex(mask)} == ${hex(value)}`;
}

/** Sets the bits under `mask` to `mark` and keeps the others. */
function setUnderMask(field: string, mark: number, mask: number): string {
  return mask === FULL_MASK ? `${field} set ${hex(mark)}` : `${field} set ${field} and ${hex(~mask)} or ${hex(mark)}`;
}
