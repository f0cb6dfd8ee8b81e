// Check sites that can never test an uplink: the router answers them itself (loopback,
// "this host", localhost), they are no single host (multicast, broadcast), or the probes cannot
// reach them through a gateway (an IPv6 link-local address). Such a site
// makes every gateway look up while every uplink is dead. Checked on the config text at load
// time and on the address a host name resolves to at every cycle (see src/probe/resolve.ts).
import { isIP } from 'node:net';

const ANSWERED_LOCALLY = 'the router answers it itself, so every gateway would look up';

/**
 * Why an IPv4 or IPv6 address can never test an uplink (`not …`), or undefined when it can.
 * `own`: the router's own addresses, known only at run time.
 */
export function unusableAddress(address: string, own: ReadonlySet<string> = new Set()): string | undefined {
  if (own.has(address)) return `not an address of this router (${ANSWERED_LOCALLY})`;
  if (isIP(address) === 6) return unusableAddress6(address);
  const first = Number(address.split('.')[0]);
  if (first === 127) return `not a loopback address (${ANSWERED_LOCALLY})`;
  if (first === 0) return `not an unspecified address (${ANSWERED_LOCALLY})`;
  if (first >= 224 && first <= 239) return 'not a multicast address (it is no single host behind an uplink)';
  if (address === '255.255.255.255') return 'not the broadcast address (it is no single host behind an uplink)';
  return undefined;
}

/** Why a check site as written in the config can never test an uplink (`not …`), or undefined. */
export function unusableSite(site: string): string | undefined {
  const family = isIP(site);
  if (family === 4) return unusableAddress(site);
  if (family === 6) return unusableAddress6(site);
  const name = site.toLowerCase().replace(/\.$/, '');
  // RFC 6761: localhost and every name under it are the host itself.
  if (name === 'localhost' || name.endsWith('.localhost')) return `not localhost (${ANSWERED_LOCALLY})`;
  return undefined;
}

function unusableAddress6(address: string): string | undefined {
  // The URL parser writes an IPv6 address in its one canonical form (`0:0::1` is `::1`).
  const canonical = new URL(`http://[${address}]/`).hostname.slice(1, -1);
  const first = canonical.startsWith('::') ? 0 : Number.parseInt(canonical.split(':')[0]!, 16);
  if (canonical === '::1') return `not a loopback address (${ANSWERED_LOCALLY})`;
  if (canonical === '::') return `not an unspecified address (${ANSWERED_LOCALLY})`;
  if (first >= 0xff00) return 'not a multicast address (it is no single host behind an uplink)';
  if (first >= 0xfe80 && first <= 0xfebf) return "not a link-local address (it is on one of the router's own links, not behind a gateway)";
  if (canonical.startsWith('::ffff:')) return 'not an IPv4-mapped IPv6 address (write the IPv4 address itself)';
  return undefined;
}

/** The address families a check site can be probed over: its own for an address, both for a host name. */
export function siteFamilies(site: string): Array<4 | 6> {
  const family = isIP(site);
  return family === 0 ? [4, 6] : [family as 4 | 6];
}
