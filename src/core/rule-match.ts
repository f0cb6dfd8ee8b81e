// A policy rule's match as nft words: `ip saddr { 203.0.113.0/26 } udp dport 5060 iifname "lan0"`.
// The values were checked at load time (addresses, ports, interface names), so they are safe here.
import type { RuleMatch } from './balance.js';

export function renderMatch(match: RuleMatch): string {
  const words: string[] = [];
  if (match.iif !== undefined) words.push(`iifname "${match.iif}"`);
  if (match.saddr !== undefined) words.push(`ip saddr ${valueOrSet(match.saddr)}`);
  if (match.daddr !== undefined) words.push(`ip daddr ${valueOrSet(match.daddr)}`);
  if (match.dport !== undefined) {
    const ports = valueOrSet(match.dport);
    // Without a protocol a port means TCP or UDP: `th` is the transport header of either.
    words.push(match.proto === undefined ? `meta l4proto { tcp, udp } th dport ${ports}` : `${match.proto} dport ${ports}`);
  } else if (match.proto !== undefined) words.push(`meta l4proto ${match.proto}`);
  // A rule with no key at all matches every new connection: no words.
  return words.join(' ');
}

function valueOrSet(value: string | number | Array<string | number>): string {
  return Array.isArray(value) ? `{ ${value.join(', ')} }` : String(value);
}
