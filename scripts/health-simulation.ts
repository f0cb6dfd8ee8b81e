// A seeded simulation of one gateway's probe rounds fed to the very health state machine the
// daemon runs (src/core/health.ts), on a virtual clock: how long a hard outage takes to detect,
// and how often random loss makes a healthy gateway look down. Used by scripts/simulate-health.ts
// (the figures in the README) and by test/unit/core/health-simulation.test.ts.
import { initialHealth, observeRound, type HealthChange, type HealthSettings, type Round } from '../src/core/health.js';
import { prng, type Random } from '../src/core/prng.js';

export interface Link {
  sites: number;
  /** Each echo is lost with this probability, independently. */
  lossPct: number;
  /** RTT of an answered echo: base plus an exponential tail with this mean. */
  rttBaseMs: number;
  rttTailMs: number;
  /** Rounds start up to this late (event loop, timers). */
  jitterMs: number;
  /** From this moment nothing passes: an echo whose reply would come back later is lost. */
  outageAt?: number;
}

/** The daemon's default test link: 2 sites, 10-30 ms RTT, timers up to 5 ms late. */
export const DEFAULT_LINK: Link = { sites: 2, lossPct: 0, rttBaseMs: 10, rttTailMs: 5, jitterMs: 5 };

/** A change, and when the daemon learns it (the round that decided it settled). */
export interface TimedChange extends HealthChange {
  settledAt: number;
}

/** Rounds every intervalMs until `untilMs`, fed in the order they settle, as the echoer emits them. */
export function runLink(
  settings: HealthSettings,
  link: Link,
  untilMs: number,
  random: Random,
  stop?: (change: TimedChange) => boolean,
): TimedChange[] {
  const rounds: Array<{ round: Round; settledAt: number }> = [];
  for (let k = 0; k * settings.intervalMs < untilMs; k++) {
    const at = k * settings.intervalMs + random.next() * link.jitterMs;
    let settledAt = at;
    const echoes = Array.from({ length: link.sites }, (_, site) => {
      const rttMs = link.rttBaseMs - link.rttTailMs * Math.log(1 - random.next());
      const lost =
        random.next() * 100 < link.lossPct || rttMs > settings.timeoutMs || (link.outageAt !== undefined && at + rttMs >= link.outageAt);
      settledAt = Math.max(settledAt, at + (lost ? settings.timeoutMs : rttMs));
      return lost ? { site: `site${site}`, answered: false } : { site: `site${site}`, answered: true, rttMs };
    });
    rounds.push({ round: { at, echoes }, settledAt });
  }
  rounds.sort((a, b) => a.settledAt - b.settledAt);
  let health = initialHealth(0);
  const changes: TimedChange[] = [];
  for (const { round, settledAt } of rounds) {
    const update = observeRound(health, round, settings);
    health = update.health;
    if (!update.change) continue;
    const change = { ...update.change, settledAt };
    changes.push(change);
    if (stop?.(change)) break;
  }
  return changes;
}

export interface OutageFigures {
  /** Outage → route moved, ms (detection plus switchMs), sorted. */
  detectionMs: number[];
  p50: number;
  p95: number;
  max: number;
  /** Outages never detected within the run (should be none). */
  missed: number;
}

/**
 * `runs` hard outages, each at a random moment after the window filled: the time from the outage
 * until the daemon knows the gateway is down (echo timeouts included), plus `switchMs` to move the route.
 */
export function simulateOutages(settings: HealthSettings, link: Link, runs: number, seed: number, switchMs = 50): OutageFigures {
  const random = prng(seed);
  const detectionMs: number[] = [];
  let missed = 0;
  for (let run = 0; run < runs; run++) {
    const outageAt = settings.windowMs + 2000 + random.next() * 10_000;
    const until = outageAt + settings.timeoutMs + (settings.down + 5) * settings.intervalMs + link.jitterMs;
    const changes = runLink(
      settings,
      { ...link, outageAt },
      until,
      random,
      (change) => change.to === 'down' && change.settledAt >= outageAt,
    );
    const down = changes.find((change) => change.to === 'down' && change.settledAt >= outageAt);
    if (down) detectionMs.push(down.settledAt - outageAt + switchMs);
    else missed++;
  }
  detectionMs.sort((a, b) => a - b);
  return { detectionMs, p50: quantile(detectionMs, 0.5), p95: quantile(detectionMs, 0.95), max: detectionMs.at(-1) ?? NaN, missed };
}

export interface LossFigures {
  runs: number;
  /** Changes to down over all runs, and the runs that had at least one. */
  downs: number;
  runsWithDown: number;
  /** Changes between up and degraded over all runs (each is a log line). */
  degradedChanges: number;
}

/** `runs` periods of `durationMs` with random loss and no outage: every down is a false one. */
export function simulateLoss(settings: HealthSettings, link: Link, runs: number, durationMs: number, seed: number): LossFigures {
  const random = prng(seed);
  const figures: LossFigures = { runs, downs: 0, runsWithDown: 0, degradedChanges: 0 };
  for (let run = 0; run < runs; run++) {
    const changes = runLink(settings, link, durationMs, random);
    const downs = changes.filter((change) => change.to === 'down').length;
    figures.downs += downs;
    if (downs > 0) figures.runsWithDown++;
    figures.degradedChanges += changes.filter((change) => change.to === 'degraded' || change.from === 'degraded').length;
  }
  return figures;
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}
