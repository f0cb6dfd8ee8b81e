// The series' buckets on a virtual clock: rounds in, points out; the rings' fixed size.
import { describe, expect, it } from 'vitest';
import type { Echo } from '../../../src/core/health.js';
import type { ProbeEvent } from '../../../src/core/probe-events.js';
import {
  BUCKET_BYTES,
  COARSE,
  FINE,
  emptyPath,
  keepPaths,
  lastClosedBucket,
  recordEvent,
  restoreBucket,
  sentBuckets,
  seriesPoints,
  type Series,
  type SeriesRange,
} from '../../../src/core/series.js';

/** 2026-12-01T00:00:00Z: a multiple of every step. */
const T0 = Date.UTC(2026, 11, 1);
const S = 1000;

const echo = (rttMs?: number): Echo => (rttMs === undefined ? { site: 's', answered: false } : { site: 's', answered: true, rttMs });
const round = (at: number, ...rtts: Array<number | undefined>): ProbeEvent => ({
  kind: 'round',
  gateway: 'isp1',
  at,
  settledAt: at + 500,
  echoes: rtts.map(echo),
});
const link = (at: number, up: boolean): ProbeEvent => ({ kind: 'link', gateway: 'isp1', dev: 'eth1', up, at });

function feed(events: ProbeEvent[]): Series {
  const series: Series = new Map();
  for (const event of events) recordEvent(series, event);
  return series;
}

/** The last `n` points of a range, as [time offset from T0 in s, sent, rtt, rtt max, loss]. */
function tail(series: Series, range: SeriesRange, now: number, n: number) {
  const points = seriesPoints(series.get('isp1'), range, now);
  return points.time.map((time, i) => [time - T0 / 1000, points.sent[i], points.rttMs[i], points.rttMaxMs[i], points.lossPct[i]]).slice(-n);
}

describe('series buckets', () => {
  it.each<{ name: string; events: ProbeEvent[]; range: SeriesRange; now: number; points: unknown[][] }>([
    {
      name: 'rounds of one 10 s bucket sum; an empty bucket is a gap',
      events: [round(T0, 10, 20), round(T0 + 5 * S, 30, undefined)],
      range: '1h',
      now: T0 + 25 * S,
      points: [
        [0, 4, 20, 30, 25],
        [10, 0, null, null, null],
        [20, 0, null, null, null],
      ],
    },
    {
      name: 'nothing answered: 100 % loss, no RTT',
      events: [round(T0, undefined, undefined)],
      range: '1h',
      now: T0,
      points: [[0, 2, null, null, 100]],
    },
    {
      name: '24h merges six 10 s buckets into one 60 s point',
      events: [round(T0, 10), round(T0 + 10 * S, 20), round(T0 + 59 * S, undefined), round(T0 + 60 * S, 40)],
      range: '24h',
      now: T0 + 60 * S,
      points: [
        [0, 3, 15, 20, 33.33],
        [60, 1, 40, 40, 0],
      ],
    },
    {
      name: '30d: 5 min buckets, fed with the same rounds',
      events: [round(T0, 10), round(T0 + 299 * S, 20), round(T0 + 300 * S, undefined)],
      range: '30d',
      now: T0 + 300 * S,
      points: [
        [0, 2, 15, 20, 0],
        [300, 1, null, null, 100],
      ],
    },
    {
      name: 'carrier down: rounds count as all lost until it is back',
      events: [link(T0, false), round(T0, 10), link(T0 + 10 * S, true), round(T0 + 10 * S, 10)],
      range: '1h',
      now: T0 + 10 * S,
      points: [
        [0, 1, null, null, 100],
        [10, 1, 10, 10, 0],
      ],
    },
    {
      name: "a method site's carried result counts once, in its own round",
      events: [
        { kind: 'round', gateway: 'isp1', at: T0, settledAt: T0, echoes: [{ site: 'https', answered: true, rttMs: 50, carried: true }] },
      ],
      range: '1h',
      now: T0,
      points: [[0, 0, null, null, null]],
    },
    {
      name: 'a round that settles late still lands in the bucket it was sent in',
      events: [round(T0 + 30 * S, 10), round(T0, 20)],
      range: '1h',
      now: T0 + 30 * S,
      points: [
        [0, 1, 20, 20, 0],
        [10, 0, null, null, null],
        [20, 0, null, null, null],
        [30, 1, 10, 10, 0],
      ],
    },
  ])('$name', ({ events, range, now, points }) => {
    expect(tail(feed(events), range, now, points.length)).toEqual(points);
  });

  it('each range has its step and number of points, the last one holding now', () => {
    const now = T0 + 123_456;
    for (const [range, step, count] of [
      ['1h', 10, 360],
      ['24h', 60, 1440],
      ['30d', 300, 8640],
    ] as const) {
      const points = seriesPoints(undefined, range, now);
      expect(points.stepS).toBe(step);
      expect(points.time).toHaveLength(count);
      expect(points.time.at(-1)! * 1000).toBeLessThanOrEqual(now);
      expect((points.time.at(-1)! + step) * 1000).toBeGreaterThan(now);
      expect(points.time[1]! - points.time[0]!).toBe(step);
      expect(points.lossPct.every((value) => value === null)).toBe(true);
    }
  });

  it('keeps 24 h of 10 s buckets and 30 days of 5 min ones: older ones are gaps, the size never grows', () => {
    const series = feed([round(T0, 10)]);
    const path = series.get('isp1')!;
    // A round every 10 s for 25 hours: the first hour has left the fine ring.
    for (let at = T0 + 10 * S; at <= T0 + 25 * 3600 * S; at += 10 * S) recordEvent(series, round(at, 10));
    const now = T0 + 25 * 3600 * S;
    const day = seriesPoints(path, '24h', now);
    expect(day.sent.filter((sent) => sent > 0)).toHaveLength(1440);
    expect(seriesPoints(path, '30d', now).sent.filter((sent) => sent > 0)).toHaveLength(25 * 12 + 1);
    for (const tier of [path.fine, path.coarse]) {
      expect(tier.sent).toHaveLength(tier.slots);
      expect(tier.rttMaxMs).toHaveLength(tier.slots);
    }
    expect((FINE.slots + COARSE.slots) * BUCKET_BYTES).toBe(276_480);
  });

  it('after a long silence the ring is empty, not stale; a clock far back starts it afresh', () => {
    const series = feed([round(T0, 10), round(T0 + 2 * 86_400 * S, 20)]);
    expect(seriesPoints(series.get('isp1'), '24h', T0 + 2 * 86_400 * S).sent.reduce((a, b) => a + b)).toBe(1);
    recordEvent(series, round(T0 - 40 * 86_400 * S, 30));
    expect(tail(series, '1h', T0 - 40 * 86_400 * S, 1)).toEqual([[-40 * 86_400, 1, 30, 30, 0]]);
  });

  it('keepPaths drops the paths no longer configured', () => {
    const series = feed([round(T0, 10), { ...round(T0, 10), gateway: 'isp2/6' }]);
    keepPaths(series, ['isp1']);
    expect([...series.keys()]).toEqual(['isp1']);
  });
  it('a bucket is closed once it ended a minute before the newest round was sent (rounds settle within 30 s)', () => {
    const path = feed([round(T0, 10), round(T0 + 130 * S, 10)]).get('isp1')!;
    const fine0 = T0 / 1000 / FINE.stepS;
    // Newest 10 s bucket: T0 + 130 s; closed: those that ended by T0 + 70 s.
    expect(lastClosedBucket(path, 'fine') - fine0).toBe(6);
    expect(lastClosedBucket(path, 'coarse')).toBe(T0 / 1000 / COARSE.stepS - 1);
    recordEvent(new Map([['isp1', path]]), round(T0 + 360 * S, 10));
    expect(lastClosedBucket(path, 'coarse')).toBe(T0 / 1000 / COARSE.stepS);
    expect(lastClosedBucket(emptyPath(), 'fine')).toBe(-1);
  });

  it('the buckets something was sent in, restored in order, give the same ring', () => {
    const path = feed([round(T0, 10, 20), round(T0 + 30 * S, undefined), round(T0 + 500 * S, 7)]).get('isp1')!;
    const copy = emptyPath();
    for (const ring of ['fine', 'coarse'] as const) {
      const buckets = sentBuckets(path[ring], -1, path[ring].newest);
      expect(buckets.length).toBe(ring === 'fine' ? 3 : 2);
      for (const sums of buckets) restoreBucket(copy[ring], sums);
      expect(sentBuckets(path[ring], buckets[0]!.bucket, path[ring].newest)).toEqual(buckets.slice(1));
    }
    for (const range of ['1h', '24h', '30d'] as const)
      expect(seriesPoints(copy, range, T0 + 500 * S)).toEqual(seriesPoints(path, range, T0 + 500 * S));
  });
});
