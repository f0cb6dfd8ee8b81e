// Continuous probing of the check sites with a method (tcp, http, dns), for the monitor: each
// gateway path × site on its own interval (start to start; a probe never overlaps the previous one
// of its site), through the gateway's own local port range (src/probe/site-probe.ts). Each result
// is one echo of that site: answered or not, with its latency. The ICMP rounds are src/probe/echoes.ts.
import type { MethodSite } from '../core/check-site.js';
import type { Echo } from '../core/health.js';
import { probeSite, type SiteProbePath, type SiteProbeResult } from './site-probe.js';

/** How a method site is probed: src/probe/site-probe.ts's probeSite; tests pass a stand-in. */
export type SiteProber = typeof probeSite;

export interface SiteTarget {
  /** The gateway's path key (`isp1`, `isp1/6`). */
  gateway: string;
  site: MethodSite;
  path: SiteProbePath;
}

export interface SiteRoundsOptions {
  /** The clock of the `at` reported with each result, ms. */
  now: () => number;
  probe?: SiteProber;
}

export interface SiteRounds {
  /** Replaces the targets (config reload); a target that stays keeps its schedule. */
  setTargets(targets: SiteTarget[]): void;
  /** Probes this gateway's sites now (its link came back), unless a probe of the site is running. */
  probeNow(gateway: string): void;
  /** Stops every timer and cancels the probes running; results still in flight are not reported. */
  stop(): Promise<void>;
}

/** One target's loop: its timer or its running probe. */
interface Loop {
  target: SiteTarget;
  /** What identifies the target: a change of any of it is a new loop. */
  id: string;
  timer?: NodeJS.Timeout;
  running?: Promise<void>;
  abort: AbortController;
  startedAt?: number;
}

/**
 * Starts probing `targets` at once. `onResult` gets each result as it comes, with `at`, the time
 * it came (options.now), and why it did not answer; it must not throw. Timers are not unref'd:
 * stop() ends them.
 */
export function startSiteRounds(
  targets: SiteTarget[],
  options: SiteRoundsOptions,
  onResult: (gateway: string, echo: Echo, at: number, error?: string) => void,
): SiteRounds {
  const probe = options.probe ?? probeSite;
  const loops = new Map<string, Loop>();
  let stopped = false;

  const run = (loop: Loop): void => {
    clearTimeout(loop.timer);
    loop.timer = undefined;
    if (loop.running || stopped) return;
    const { site, path } = loop.target;
    loop.startedAt = options.now();
    const timeoutMs = site.timeoutMs ?? 1000;
    // probeSite never rejects; a stand-in that throws (or the placeholder before the merge) is a failed probe.
    loop.running = Promise.resolve()
      .then(() => probe(site, path, { timeoutMs, signal: loop.abort.signal }))
      .catch((error: unknown): SiteProbeResult => ({ answered: false, error: (error as Error).message }))
      .then((result) => {
        loop.running = undefined;
        if (loop.abort.signal.aborted) return;
        const echo: Echo = { site: site.key, answered: result.answered };
        if (result.answered && result.rttMs !== undefined) echo.rttMs = result.rttMs;
        onResult(loop.target.gateway, echo, options.now(), result.answered ? undefined : (result.error ?? 'no answer'));
        const next = loop.startedAt! + (site.intervalMs ?? 5000) - options.now();
        if (next > 0) loop.timer = setTimeout(() => run(loop), next);
        else run(loop); // slower than its interval: the next probe at once
      });
  };

  const end = (loop: Loop): void => {
    clearTimeout(loop.timer);
    loop.abort.abort();
  };

  const setTargets = (fresh: SiteTarget[]): void => {
    const wanted = new Map(fresh.map((target) => [`${target.gateway}\n${target.site.key}`, target]));
    for (const [key, loop] of loops) {
      const target = wanted.get(key);
      if (target && idOf(target) === loop.id) {
        loop.target = target;
        continue;
      }
      end(loop);
      loops.delete(key);
    }
    for (const [key, target] of wanted) {
      if (loops.has(key)) continue;
      const loop: Loop = { target, id: idOf(target), abort: new AbortController() };
      loops.set(key, loop);
      run(loop);
    }
  };

  setTargets(targets);
  return {
    setTargets(fresh) {
      if (!stopped) setTargets(fresh);
    },
    probeNow(gateway) {
      if (stopped) return;
      for (const loop of loops.values()) if (loop.target.gateway === gateway) run(loop);
    },
    async stop() {
      stopped = true;
      const running = [...loops.values()].map((loop) => {
        end(loop);
        return loop.running;
      });
      loops.clear();
      await Promise.all(running);
    },
  };
}

/** A target's site (all of it: a reload may change its pace or server) and path. */
function idOf(target: SiteTarget): string {
  return JSON.stringify([target.site, target.path]);
}
