// The router's own IPv4 and IPv6 addresses in this network namespace. A check site at one of them
// is answered by the router itself through every gateway, so it is skipped (see src/probe/resolve.ts).
import { networkInterfaces } from 'node:os';

/**
 * From getifaddrs(3), no command run: libuv lists the interfaces that are up and running, so
 * an address on an interface without carrier is missed until its link comes back.
 */
export function localAddresses(): Set<string> {
  const addresses = new Set<string>();
  for (const entries of Object.values(networkInterfaces())) {
    // Link-local IPv6 addresses too (without their zone): no check site, but harmless.
    for (const entry of entries ?? []) addresses.add(entry.address);
  }
  return addresses;
}
