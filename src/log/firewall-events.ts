// The firewall's events (nft table, fwmark rules, conntrack) and their log lines; events.ts
// merges them into the one formatter table.
import { hex } from '../core/ruleset.js';
import type { Level } from './events.js';

export type FirewallEvent =
  | { kind: 'firewall-loaded'; table: string; enabled: boolean; active?: string; mark?: number; policy?: string }
  | { kind: 'balance-changed'; policy: string; joined: string[]; left: string[] }
  | { kind: 'firewall-failed'; table: string; error: string }
  | { kind: 'firewall-drifted'; table: string }
  | { kind: 'mark-rules-changed'; added: string[]; removed: string[] }
  | { kind: 'mark-rules-failed'; error: string }
  | { kind: 'conntrack-flushed'; flush: string; filter: string; count: number; gateway?: string }
  | { kind: 'conntrack-skipped'; why: string }
  | { kind: 'conntrack-failed'; flush: string; error: string }
  | { kind: 'switch-incomplete'; to: string; failed: string[] };

type Formatters = { [K in FirewallEvent['kind']]: { level: Level; line: (event: Extract<FirewallEvent, { kind: K }>) => string } };

export const firewallFormatters: Formatters = {
  'firewall-loaded': {
    level: 'info',
    line: (e) =>
      !e.enabled
        ? `nftables: removed table ${e.table} (nftables.enabled is false)`
        : `nftables: loaded table ${e.table}; new connections get ${e.policy ?? (e.mark === undefined ? 'no mark (no active gateway)' : `mark ${hex(e.mark)} (${e.active})`)}`,
  },
  'balance-changed': {
    level: 'info',
    line: (e) =>
      `shares: ${e.policy}${e.joined.length > 0 ? `; joined: ${e.joined.join(', ')}` : ''}${e.left.length > 0 ? `; left: ${e.left.join(', ')} (its new connections go elsewhere)` : ''}`,
  },
  'firewall-failed': {
    level: 'error',
    line: (e) => `nftables: could not load table ${e.table}; the rules loaded before stay, the next cycle retries: ${e.error}`,
  },
  'firewall-drifted': { level: 'warn', line: (e) => `nftables: table ${e.table} was changed or removed by someone else; loading it again` },
  'mark-rules-changed': {
    level: 'info',
    line: (e) =>
      `ip rules: ${[e.added.length > 0 && `added ${e.added.join(', ')}`, e.removed.length > 0 && `removed ${e.removed.join(', ')}`].filter(Boolean).join('; ')}`,
  },
  'mark-rules-failed': {
    level: 'error',
    line: (e) => `ip rules: could not update netgwm's fwmark rules; the next cycle retries: ${e.error}`,
  },
  'conntrack-flushed': {
    level: 'info',
    line: (e) =>
      `conntrack: deleted ${e.count} flow entries${e.gateway ? ` of ${e.gateway}` : ''} (flush: ${e.flush}${e.filter ? `, conntrack -D ${e.filter}` : ''})`,
  },
  'conntrack-skipped': { level: 'info', line: (e) => `conntrack: nothing to flush: ${e.why}` },
  'conntrack-failed': {
    level: 'error',
    line: (e) => `conntrack: could not flush (flush: ${e.flush}); connections may stay on the old uplink: ${e.error}`,
  },
  'switch-incomplete': {
    level: 'error',
    line: (e) => `switch to ${e.to} is partial: ${e.failed.join(' and ')} failed (see above); the route did change and hooks still run`,
  },
};
