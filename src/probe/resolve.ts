// Host-name check sites. A lookup that fails or hangs must not count against every gateway at
// once: the site uses its last good address, or is skipped this cycle.
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
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

export async function resolveSites(sites: string[], remembered: Record<string, string>, timeoutMs: number): Promise<ResolvedSites> {
  const resolved: Record<string, string> = {};
  const events: ShellEvent[] = [];
  const targets = await Promise.all(
    sites.map(async (site): Promise<ProbeTarget> => {
      if (isIP(site)) return { site, address: site };
      try {
        const address = await withTimeout(lookup(site, { family: 4 }), timeoutMs);
        resolved[site] = address.address;
        return { site, address: address.address };
      } catch (error) {
        const cached = remembered[site];
        events.push({ kind: 'site-unresolved', site, error: (error as Error).message, usingCached: cached });
        if (cached) resolved[site] = cached;
        return cached ? { site, address: cached } : { site, skipped: 'name did not resolve' };
      }
    }),
  );
  return { targets, resolved, events };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
