// What netgwm's fwmark rules and nft table should be, compared with what is there. Pure: the
// callers read `ip -j rule` and the state, and apply the difference this computes.
import { hex } from './ruleset.js';
import type { FirewallRecord } from './types.js';

export const MAIN_TABLE = 254;

/** One `ip rule` netgwm owns: `fwmark MARK/MASK lookup TABLE`, or the main-table rule before them. */
export interface MarkRule {
  pref: number;
  /** Absent for `lookup main suppress_prefixlength 0`. */
  fwmark?: number;
  mask?: number;
  table: number;
}

/**
 * The rules for the gateways that name a table: at `rulePref`, routes in the main table more
 * specific than a default route (the LAN, the uplinks' own subnets) win over any mark, so that
 * a marked packet for the LAN is never sent up an uplink; at `rulePref + 1`, one fwmark rule
 * per gateway. No gateway with a table: no rules.
 */
export function desiredMarkRules(gateways: Array<{ mark?: number; table_id?: number }>, mask: number, rulePref: number): MarkRule[] {
  const routed = gateways.filter((gateway) => gateway.mark !== undefined && gateway.table_id !== undefined);
  if (routed.length === 0) return [];
  return [
    { pref: rulePref, table: MAIN_TABLE },
    ...routed.map((gateway) => ({ pref: rulePref + 1, fwmark: gateway.mark!, mask, table: gateway.table_id! })),
  ];
}

/** The preferences whose rules are netgwm's: the configured ones and those installed before. */
export function ownedPrefs(rulePref: number, installedPref: number | undefined): number[] {
  return [...new Set([rulePref, rulePref + 1, ...(installedPref === undefined ? [] : [installedPref, installedPref + 1])])];
}

/** `pref 1101 fwmark 0x1/0xff lookup 101`: the words after `ip rule add` or `ip rule del`. */
export function ruleWords(rule: MarkRule): string {
  const selector = rule.fwmark === undefined ? '' : ` fwmark ${hex(rule.fwmark)}/${hex(rule.mask ?? 0xffffffff)}`;
  const suppress = rule.fwmark === undefined ? ' suppress_prefixlength 0' : '';
  return `pref ${rule.pref}${selector} lookup ${rule.table}${suppress}`;
}

/** Rules to remove (ours, not wanted) and to add (wanted, missing); removals first. */
export function planMarkRules(existing: MarkRule[], desired: MarkRule[], owned: number[]): { remove: MarkRule[]; add: MarkRule[] } {
  const wanted = new Set(desired.map(ruleWords));
  const present = new Set(existing.map(ruleWords));
  return {
    remove: existing.filter((rule) => owned.includes(rule.pref) && !wanted.has(ruleWords(rule))),
    add: desired.filter((rule) => !present.has(ruleWords(rule))),
  };
}

export type FirewallWork = 'load' | 'verify' | 'none';

/**
 * Whether the nft table must be loaded, checked, or left alone. Loading is decided from the
 * state alone, so a cycle with nothing to change runs no nft command; a check (one `nft list`)
 * every `verifyIntervalMs` notices a table someone flushed or changed.
 */
export function firewallWork(
  record: FirewallRecord | undefined,
  wanted: { hash: string; netns: string },
  now: number,
  verifyIntervalMs: number,
): FirewallWork {
  // Another namespace or boot id: the kernel that had the table is gone (a reboot).
  if (!record || record.hash !== wanted.hash || record.netns !== wanted.netns) return 'load';
  // A clock that went back would make the last check look recent for too long.
  if (now - record.verifiedAt >= verifyIntervalMs || now < record.verifiedAt) return 'verify';
  return 'none';
}
