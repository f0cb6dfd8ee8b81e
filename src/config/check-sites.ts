// Check sites that can never test an uplink: the router answers them itself (loopback,
// "this host", localhost), they are no single host (multicast, broadcast), or the probes cannot
// reach them through a gateway (IPv6: the check table and the gateways are IPv4). Such a site
// makes every gateway look up while every uplink is dead. Checked on the config text at load
// time and on the address a host name resolves to at every cycle (see src/probe/resolve.ts).
import { isIP } from 'node:net';

const ANSWERED_LOCALLY = 'the router answers it itself, so every gateway would look up';

/**
 * Why an IPv4 address can never test an uplink (`not …`), or undefined when it can.
 * `own`: the router's own addresses, known only at run time.
 */
export function unusableAddress(address: string, own: ReadonlySet<string> = new Set()): string | undefined {
  if (own.has(address)) return `not an address of this router (${ANSWERED_LOCALLY})`;
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
  if (family === 6) return 'not an IPv6 address (probes go through the IPv4 gateways; use an IPv4 address or a name with an A record)';
  const name = site.toLowerCase().replace(/\.$/, '');
  // RFC 6761: localhost and every name under it are the host itself.
  if (name === 'localhost' || name.endsWith('.localhost')) return `not localhost (${ANSWERED_LOCALLY})`;
  return undefined;
}
