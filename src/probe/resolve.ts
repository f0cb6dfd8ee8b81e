// Host-name check sites. A lookup that fails or hangs must not count against every gateway at
// once: the site uses its last good address, or is skipped this cycle.
//
// Names are looked up in /etc/hosts, then in DNS with c-ares (node:dns Resolver) rather than
// getaddrinfo: a c-ares query has a real timeout and is cancelled with it, whereas a hanging
// getaddrinfo would hold one of libuv's four threadpool threads (which file I/O needs too) and
// keep a cron run from exiting until the system resolver gives up.
import { Resolver } from 'node:dns/promises';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { unusableAddress } from '../config/check-sites.js';
import { own } from '../core/records.js';
import type { ShellEvent } from '../log/events.js';

export interface ProbeTarget {
  site: string;
  address?: string;
  /** Why the site is not probed this cycle. */
  skipped?: string;
}

export interface ResolvedSites {
  targets: ProbeTarget[];
  /** Host name → address, to remember for next time. */
  resolved: Record<string, string>;
  events: ShellEvent[];
}

/**
 * `ownAddresses`: the router's own addresses. A site at one of them, or a name resolving to one
 * or to loopback (the config refuses such literal sites), would answer through every gateway.
 */
export async function resolveSites(sites: string[], remembered: Record<string, string>, timeoutMs: number, hostsFile = '/etc/hosts', ownAddresses: ReadonlySet<string> = new Set()): Promise<ResolvedSites> {
  const resolved: Record<string, string> = {};
  const events: ShellEvent[] = [];
  const names = sites.filter((site) => !isIP(site));
  const hosts = names.length > 0 ? await readHosts(hostsFile) : new Map<string, string>();
  const resolver = new Resolver({ timeout: timeoutMs, tries: 1 });
  /** The last good address of a name, if it is still usable. */
  const fallback = (site: string, skipped: string): ProbeTarget => {
    const cached = own(remembered, site);
    if (cached === undefined || unusableAddress(cached, ownAddresses)) return { site, skipped };
    resolved[site] = cached;
    return { site, address: cached };
  };
  const targets = await Promise.all(
    sites.map(async (site): Promise<ProbeTarget> => {
      let address: string | undefined;
      try {
        address = isIP(site) ? site : (hosts.get(site.toLowerCase()) ?? (await resolver.resolve4(site))[0]);
        if (!address) throw new Error('no IPv4 address');
      } catch (error) {
        const target = fallback(site, 'name did not resolve');
        events.push({ kind: 'site-unresolved', site, error: (error as Error).message, usingCached: target.address });
        return target;
      }
      const why = unusableAddress(address, ownAddresses);
      if (why === undefined) {
        if (address !== site) resolved[site] = address;
        return { site, address };
      }
      const target = isIP(site) ? { site, skipped: why } : fallback(site, `resolved to ${address}`);
      events.push({ kind: 'site-unusable', site, address, why, usingCached: target.address });
      return target;
    }),
  );
  resolver.cancel();
  return { targets, resolved, events };
}

/** IPv4 entries of a hosts file: name → address (the first entry for a name wins, as in glibc). */
export async function readHosts(file: string): Promise<Map<string, string>> {
  const hosts = new Map<string, string>();
  const text = await readFile(file, 'utf8').catch(() => '');
  for (const line of text.split('\n')) {
    const [address, ...names] = line.replace(/#.*/, '').trim().split(/\s+/);
    if (!address || isIP(address) !== 4) continue;
    for (const name of names) if (!hosts.has(name.toLowerCase())) hosts.set(name.toLowerCase(), address);
  }
  return hosts;
}
