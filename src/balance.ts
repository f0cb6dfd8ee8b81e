// Balanced tiers and policy rules in a cycle: plan the shares from the decision's records
// (src/core/balance.ts), remember and log them once the nft table says so, and flush the
// connections of the gateways that left, only after that table is live.
import type { Config } from './config/load.js';
import { DEFAULT_MARK_MASK } from './config/schema.js';
import { balanceOf, describeTarget, isBalanced, type Balance } from './core/balance.js';
import { hex } from './core/ruleset.js';
import type { Gateway, State } from './core/types.js';
import { familyFlushArgs, type FirewallDeps } from './firewall.js';
import type { Logger } from './log/logger.js';
import { deleteFlows } from './system/conntrack.js';

/**
 * True with balanced tiers or rules and nftables enabled: new connections get more than one mark.
 * IPv4 only: new IPv6 connections take the IPv6 active gateway's mark (README "IPv6").
 */
export function balanceNeeded(config: Config): boolean {
  return config.family !== 6 && config.nftables?.enabled === true && isBalanced(config.gateways, config.rules);
}

/** The shares and rule targets for this decision; undefined without balanced tiers or rules (or nftables off). */
export function planBalance(
  config: Config,
  state: State,
  active: Gateway | undefined,
  mode: string | undefined,
  now: number,
): Balance | undefined {
  if (!balanceNeeded(config)) return undefined;
  return balanceOf({
    gateways: config.gateways,
    rules: config.rules ?? [],
    records: state.gateways,
    previous: state.balance,
    route: active?.name,
    pinned: mode !== undefined && mode !== 'auto',
    now,
    minUptimeMs: config.min_uptime * 1000,
  });
}

/** `default tier 1: isp1 75 %, isp2 25 %; rule 1: isp3`: what new connections get, for the log and `nft --print`. */
export function describeBalance(balance: Balance): string {
  return [
    `default ${describeTarget(balance.default, balance.shares)}`,
    ...balance.rules.map((target, index) => `rule ${index + 1} ${describeTarget(target, balance.shares)}`),
  ].join('; ');
}

/** Records the shares now in the kernel; a change is one log line. */
export function rememberBalance(log: Logger, state: State, balance: Balance): void {
  const before = state.balance;
  state.balance = balance.record;
  if (before && JSON.stringify(before) === JSON.stringify(balance.record)) return;
  const joined = balance.record.used.filter((name) => !(before?.used ?? []).includes(name));
  log.event({ kind: 'balance-changed', policy: describeBalance(balance), joined, left: balance.left });
}

/**
 * Forgets the connections of the gateways that left (`conntrack -D --mark MARK/MASK`, with `-p
 * udp` for `flush: udp`), one gateway at a time: the others' connections are untouched.
 * Returns false when a flush failed (logged).
 */
export async function flushLeft(config: Config, deps: FirewallDeps, left: string[]): Promise<boolean> {
  const flush = config.conntrack?.flush ?? 'none';
  if (flush === 'none') return true;
  const mask = config.nftables?.mask ?? DEFAULT_MARK_MASK;
  let ok = true;
  for (const gateway of config.gateways.filter((candidate) => left.includes(candidate.name) && candidate.mark !== undefined)) {
    const filter = [
      ...familyFlushArgs(config, deps),
      ...(flush === 'udp' ? ['-p', 'udp'] : []),
      '--mark',
      `${hex(gateway.mark!)}/${hex(mask)}`,
    ];
    try {
      const count = await deleteFlows(deps.exec, filter);
      deps.log.event({ kind: 'conntrack-flushed', flush, filter: filter.join(' '), count, gateway: gateway.name });
    } catch (error) {
      deps.log.event({ kind: 'conntrack-failed', flush, error: (error as Error).message });
      ok = false;
    }
  }
  return ok;
}
