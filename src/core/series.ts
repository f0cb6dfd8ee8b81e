// RTT and loss over time for the status page's graphs: per probe path (`isp1`, `isp1/6`) the
// echoes the monitor sent and what answered, summed into fixed time buckets in two rings: 10 s
// buckets for 24 h and 5 min buckets for 30 days. Fixed size whatever happens (README "Status
// page" states the bound); a bucket nothing was sent in is a gap. The rings are updated in place:
// copying 8640 buckets per round would be absurd; nothing here does I/O or reads a clock.
import type { Echo } from './health.js';
import type { ProbeEvent } from './probe-events.js';

export interface TierShape {
  /** Seconds per bucket; buckets start at multiples of it (unix time). */
  stepS: number;
  /** Buckets kept: the ring covers stepS × slots seconds. */
  slots: number;
}

export const FINE: TierShape = { stepS: 10, slots: 8640 }; // 24 h
export const COARSE: TierShape = { stepS: 300, slots: 8640 }; // 30 days
/** Bytes per bucket on disk and in memory: sent, answered (uint32), RTT sum and max (float32). */
export const BUCKET_BYTES = 16;

export interface Tier extends TierShape {
  /** Index (unix seconds / stepS) of the newest bucket; the ring holds newest - slots + 1 … newest. -1: empty. */
  newest: number;
  sent: Uint32Array;
  answered: Uint32Array;
  /** Of the answered echoes: every probe that answers gives its time. */
  rttSumMs: Float32Array;
  rttMaxMs: Float32Array;
}

export interface PathSeries {
  fine: Tier;
  coarse: Tier;
  /** The carrier is down: rounds meanwhile count as all lost, whatever they say. */
  linkDown: boolean;
}

/** Path key → its series. */
export type Series = Map<string, PathSeries>;

export function emptyTier(shape: TierShape): Tier {
  const { stepS, slots } = shape;
  return {
    stepS,
    slots,
    newest: -1,
    sent: new Uint32Array(slots),
    answered: new Uint32Array(slots),
    rttSumMs: new Float32Array(slots),
    rttMaxMs: new Float32Array(slots),
  };
}

export const emptyPath = (): PathSeries => ({ fine: emptyTier(FINE), coarse: emptyTier(COARSE), linkDown: false });

/** What the daemon's monitor saw, added to its path's series (created on its first round). */
export function recordEvent(series: Series, event: ProbeEvent): void {
  let path = series.get(event.gateway);
  if (!path) {
    path = emptyPath();
    series.set(event.gateway, path);
  }
  if (event.kind === 'link') {
    path.linkDown = !event.up;
    return;
  }
  const echoes = event.echoes.filter((echo) => !echo.carried); // counted in the round it came in
  const lost = path.linkDown;
  for (const tier of [path.fine, path.coarse]) addEchoes(tier, Math.floor(event.at / 1000 / tier.stepS), echoes, lost);
}

function addEchoes(tier: Tier, bucket: number, echoes: Echo[], lost: boolean): void {
  advance(tier, bucket);
  const slot = bucket % tier.slots;
  for (const echo of echoes) {
    tier.sent[slot]! += 1;
    if (lost || !echo.answered) continue;
    tier.answered[slot]! += 1;
    if (echo.rttMs === undefined) continue;
    tier.rttSumMs[slot]! += echo.rttMs;
    tier.rttMaxMs[slot] = Math.max(tier.rttMaxMs[slot]!, echo.rttMs);
  }
}

/**
 * Moves the ring on to `bucket`, emptying the buckets it passes (a gap: nothing was sent). A bucket
 * a whole ring before the newest (rounds settle within seconds) means the clock went far back: the
 * ring starts afresh there.
 */
function advance(tier: Tier, bucket: number): void {
  if (tier.newest >= 0 && bucket > tier.newest - tier.slots && bucket <= tier.newest) return;
  const fresh = tier.newest < 0 || bucket <= tier.newest - tier.slots;
  const passed = fresh ? tier.slots : Math.min(bucket - tier.newest, tier.slots);
  for (let i = 1; i <= passed; i++) clearSlot(tier, (fresh ? bucket + i : tier.newest + i) % tier.slots);
  tier.newest = bucket;
}

function clearSlot(tier: Tier, slot: number): void {
  tier.sent[slot] = 0;
  tier.answered[slot] = 0;
  tier.rttSumMs[slot] = 0;
  tier.rttMaxMs[slot] = 0;
}

/**
 * A round reaches the series when it settles, up to a probe timeout (30 s at most) after it was
 * sent, and counts in the bucket it was sent in. So a bucket that ended this long before the
 * newest round was sent takes no more rounds: it is closed (a minute leaves room for a busy event loop).
 */
export const ROUNDS_SETTLE_WITHIN_S = 60;

/** The newest closed bucket of the path's `which` ring (the fine ring's newest round is the clock); -1: none. */
export function lastClosedBucket(path: PathSeries, which: 'fine' | 'coarse'): number {
  if (path.fine.newest < 0) return -1;
  const settledBefore = path.fine.newest * path.fine.stepS - ROUNDS_SETTLE_WITHIN_S;
  return Math.floor(settledBefore / path[which].stepS) - 1;
}

/** One bucket's sums, by its index (unix seconds / stepS). */
export interface BucketSums {
  bucket: number;
  sent: number;
  answered: number;
  rttSumMs: number;
  rttMaxMs: number;
}

/** The ring's buckets in (after, upTo] that something was sent in, oldest first. */
export function sentBuckets(tier: Tier, after: number, upTo: number): BucketSums[] {
  const buckets: BucketSums[] = [];
  const first = Math.max(after + 1, tier.newest - tier.slots + 1, 0);
  for (let bucket = first; bucket <= Math.min(upTo, tier.newest); bucket++) {
    const slot = bucket % tier.slots;
    if (tier.sent[slot] === 0) continue;
    buckets.push({
      bucket,
      sent: tier.sent[slot]!,
      answered: tier.answered[slot]!,
      rttSumMs: tier.rttSumMs[slot]!,
      rttMaxMs: tier.rttMaxMs[slot]!,
    });
  }
  return buckets;
}

/**
 * Puts a bucket back as it was saved: the ring moves on to it as for a round (emptying the buckets
 * it passes, which is why empty buckets need not be saved), then holds exactly its sums.
 */
export function restoreBucket(tier: Tier, sums: BucketSums): void {
  advance(tier, sums.bucket);
  const slot = sums.bucket % tier.slots;
  tier.sent[slot] = sums.sent;
  tier.answered[slot] = sums.answered;
  tier.rttSumMs[slot] = sums.rttSumMs;
  tier.rttMaxMs[slot] = sums.rttMaxMs;
}

/** Keeps the paths `keys` names (the configured ones) and drops the rest (of the series, or of anything kept per path). */
export function keepPaths<T>(series: Map<string, T>, keys: Iterable<string>): void {
  const kept = new Set(keys);
  for (const key of series.keys()) if (!kept.has(key)) series.delete(key);
}

export type SeriesRange = '1h' | '24h' | '30d';

/** What each range shows: which ring, merged to which step, how many points. */
export const RANGES: Record<SeriesRange, { tier: 'fine' | 'coarse'; stepS: number; points: number }> = {
  '1h': { tier: 'fine', stepS: 10, points: 360 },
  '24h': { tier: 'fine', stepS: 60, points: 1440 },
  '30d': { tier: 'coarse', stepS: 300, points: 8640 },
};

/** One point per step, oldest first; null where nothing was sent (or nothing answered, for RTT). */
export interface SeriesPoints {
  stepS: number;
  /** Unix seconds of each point's start; the last point holds `now`. */
  time: number[];
  sent: number[];
  rttMs: Array<number | null>;
  rttMaxMs: Array<number | null>;
  lossPct: Array<number | null>;
}

/** A range of a path's series up to `nowMs`; buckets outside the ring (too old, or after the newest) are gaps. */
export function seriesPoints(path: PathSeries | undefined, range: SeriesRange, nowMs: number): SeriesPoints {
  const { tier: which, stepS, points } = RANGES[range];
  const tier = path?.[which] ?? emptyTier(which === 'fine' ? FINE : COARSE);
  const perPoint = stepS / tier.stepS;
  const last = Math.floor(nowMs / 1000 / stepS) * stepS;
  const result: SeriesPoints = { stepS, time: [], sent: [], rttMs: [], rttMaxMs: [], lossPct: [] };
  for (let start = last - (points - 1) * stepS; start <= last; start += stepS) {
    let [sent, answered, sum, max] = [0, 0, 0, 0];
    const first = start / tier.stepS;
    for (let bucket = first; bucket < first + perPoint; bucket++) {
      if (tier.newest < 0 || bucket > tier.newest || bucket <= tier.newest - tier.slots || bucket < 0) continue;
      const slot = bucket % tier.slots;
      sent += tier.sent[slot]!;
      answered += tier.answered[slot]!;
      sum += tier.rttSumMs[slot]!;
      max = Math.max(max, tier.rttMaxMs[slot]!);
    }
    result.time.push(start);
    result.sent.push(sent);
    result.lossPct.push(sent === 0 ? null : round((100 * (sent - answered)) / sent));
    result.rttMs.push(answered === 0 ? null : round(sum / answered));
    result.rttMaxMs.push(answered === 0 ? null : round(max));
  }
  return result;
}

/** Two decimals: float32 sums carry no more. */
const round = (value: number) => Math.round(value * 100) / 100;
