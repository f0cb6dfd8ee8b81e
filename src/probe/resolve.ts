// Host-name check sites. A lookup that fails or hangs must not count against every gateway at
// once: the site uses its last good address, or is skipped this cycle. A name whose lookup fails
// is reported once when it starts failing and once when it resolves again, and is retried with
// back-off (src/core/lookups.ts). A cycle waits only for the first lookup of a name: later ones
// run in the background while the gateways are probed at the name's last address. A site at an
// address the router answers itself (its own, loopback…) is skipped with an error: it would
// answer through every gateway, dead or not.
//
// Names are looked up in /etc/hosts, then in DNS with c-ares (node:dns Resolver) rather than
// getaddrinfo: a c-ares query has a real timeout and is cancelled with it, whereas a hanging
// getaddrinfo would hold one of libuv's four threadpool threads (which file I/O needs too) and
// keep a cron run from exiting until the system resolver gives up.
import { Resolver } from 'node:dns/promises';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { unusableAddress } from '../config/check-sites.js';
import { lookupDue, lookupFailed } from '../core/lookups.js';
import { own } from '../core/records.js';
import type { LookupFailure } from '../core/types.js';
import type { ShellEvent } from '../log/events.js';

export interface ProbeTarget {
  site: string;
  address?: string;
  /** Why the site is not probed this cycle. */
  skipped?: string;
}

/** What is remembered about host-name sites between cycles (fields of the state). */
export interface SiteMemory {
  /** Host name → the last address it resolved to. */
  resolved: Record<string, string>;
  /** Host names whose lookups fail. */
  unresolved: Record<string, LookupFailure>;
}

/** The memory after this cycle's lookups, and what to log about them. */
export type SettledSites = SiteMemory & { events: ShellEvent[] };

export interface ResolvedSites {
  /** What to probe this cycle; ready without waiting for the retries. */
  targets: ProbeTarget[];
  /**
   * What to remember and log once the retries started in the background are over (each is
   * bounded by the lookup's timeout). Never rejects.
   */
  settled: Promise<SettledSites>;
}

export interface ResolveOptions {
  /** Wall-clock time, epoch ms: back-off times are kept in the state file. */
  now: number;
  timeoutMs: number;
  hostsFile?: string;
  /** The address family to resolve names to: 4 (A, the default) or 6 (AAAA). */
  family?: 4 | 6;
  /** The DNS lookup (of `family`); tests pass their own. */
  lookup?: (name: string) => Promise<string>;
  /** The router's own addresses (src/system/local-addresses.ts). */
  ownAddresses?: ReadonlySet<string>;
}

export async function resolveSites(sites: string[], memory: SiteMemory, options: ResolveOptions): Promise<ResolvedSites> {
  const names = sites.filter((site) => !isIP(site));
  const hosts = names.length > 0 ? await readHosts(options.hostsFile ?? '/etc/hosts') : new Map<string, string>();
  const dns = options.lookup ? { lookup: options.lookup, close: () => undefined } : dnsLookup(options.timeoutMs);
  const ownAddresses = options.ownAddresses ?? new Set<string>();
  const outcomes = new Map<string, Promise<Outcome>>();
  // Sites written as addresses the router answers itself; a name is reported when its lookup settles.
  const unusable: ShellEvent[] = [];
  /** The site at `address`; when the router would answer that itself, the last good address or nothing. */
  const usable = (site: string, address: string, remembered: string | undefined): ProbeTarget => {
    const why = unusableAddress(address, ownAddresses);
    if (why === undefined) return { site, address };
    if (!isIP(site)) return remembered ? { site, address: remembered } : { site, skipped: `resolved to ${address}` };
    unusable.push({ kind: 'site-unusable', site, address, why });
    return { site, skipped: why };
  };
  const targets = await Promise.all(
    sites.map(async (site): Promise<ProbeTarget> => {
      if (isIP(site)) return usable(site, site, undefined);
      const failure = own(memory.unresolved, site);
      const remembered = lastGood(memory, site, ownAddresses);
      const fallback: ProbeTarget = remembered ? { site, address: remembered } : { site, skipped: 'name did not resolve' };
      const fromHosts = hosts.get(site.toLowerCase());
      if (fromHosts) {
        outcomes.set(site, Promise.resolve({ address: fromHosts }));
        return usable(site, fromHosts, remembered);
      }
      if (!lookupDue(failure, options.now)) return fallback;
      const outcome = lookupOutcome(dns.lookup, site);
      outcomes.set(site, outcome);
      // Only a name never resolved nor failed is waited for; the others are looked up in the
      // background, and this cycle probes their last address (or goes without a failing one).
      if (failure || remembered) return fallback;
      const { address } = await outcome;
      return address ? usable(site, address, remembered) : fallback;
    }),
  );
  const settled = Promise.all(names.map(async (name) => [name, await outcomes.get(name)] as const)).then((results) => {
    dns.close();
    const next = remember(results, memory, options.now, ownAddresses);
    return { ...next, events: [...unusable, ...next.events] };
  });
  return { targets, settled };
}

type Outcome = { address?: string; error?: string };

/** The address a name last resolved to, unless the router would answer that itself now. */
function lastGood(memory: SiteMemory, site: string, ownAddresses: ReadonlySet<string>): string | undefined {
  const cached = own(memory.resolved, site);
  return cached !== undefined && unusableAddress(cached, ownAddresses) === undefined ? cached : undefined;
}

function lookupOutcome(lookup: (name: string) => Promise<string>, name: string): Promise<Outcome> {
  return lookup(name).then(
    (address) => ({ address }),
    (error: unknown) => ({ error: (error as Error).message }),
  );
}

/**
 * The new memory and the events: a failure is reported when it starts and when it ends. An
 * address the router would answer itself is not remembered, and is reported.
 */
function remember(
  results: ReadonlyArray<readonly [string, Outcome | undefined]>,
  memory: SiteMemory,
  now: number,
  ownAddresses: ReadonlySet<string>,
): SettledSites {
  const next: SettledSites = { resolved: {}, unresolved: {}, events: [] };
  for (const [site, outcome] of results) {
    const failure = own(memory.unresolved, site);
    const remembered = lastGood(memory, site, ownAddresses);
    const why = outcome?.address === undefined ? undefined : unusableAddress(outcome.address, ownAddresses);
    if (why !== undefined) {
      if (remembered) next.resolved[site] = remembered;
      if (failure) next.unresolved[site] = failure;
      next.events.push({ kind: 'site-unusable', site, address: outcome!.address!, why, usingCached: remembered });
      continue;
    }
    if (outcome?.address) {
      next.resolved[site] = outcome.address;
      if (failure)
        next.events.push({
          kind: 'site-resolved',
          site,
          address: outcome.address,
          failedForMs: now - failure.since,
          failures: failure.failures,
        });
      continue;
    }
    if (remembered) next.resolved[site] = remembered;
    // No outcome: its back-off is not over, nothing changes.
    const failed = outcome === undefined ? failure! : lookupFailed(failure, now, outcome.error ?? 'no address');
    next.unresolved[site] = failed;
    if (!failure)
      next.events.push({ kind: 'site-unresolved', site, error: failed.error, usingCached: remembered, retryInMs: failed.retryAt - now });
  }
  return next;
}

/** c-ares lookups with a timeout, all cancelled by `close`. */
function dnsLookup(timeoutMs: number): { lookup: (name: string) => Promise<string>; close: () => void } {
  const resolver = new Resolver({ timeout: timeoutMs, tries: 1 });
  return {
    async lookup(name) {
      const address = (await resolver.resolve4(name))[0];
      if (!address) throw new Error('no IPv4 address');
      return address;
    },
    close: () => resolver.cancel(),
  };
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
