import { describe, expect, it, vi } from 'vitest';
import { coalesce, familyObservations, runEvery, throttle, type Timer } from '../../src/daemon.js';

/** A clock that moves only when the code under test works or sleeps. */
function virtualTimer(): Timer & { advance: (ms: number) => void } {
  let now = 0;
  return {
    now: () => now,
    advance: (ms) => {
      now += ms;
    },
    sleep: async (ms) => {
      now += ms;
    },
  };
}

/** Start times of the first `cycles` runs of work lasting `durations[i]` (the last one repeats). */
async function starts(intervalMs: number, durations: number[], cycles: number): Promise<number[]> {
  const timer = virtualTimer();
  const stop = new AbortController();
  const started: number[] = [];
  await runEvery(
    intervalMs,
    stop.signal,
    async () => {
      started.push(timer.now());
      timer.advance(durations[Math.min(started.length - 1, durations.length - 1)]!);
      if (started.length === cycles) stop.abort();
    },
    timer,
  );
  return started;
}

describe('runEvery', () => {
  it.each([
    { case: 'short cycles: start to start, not sleep after work', interval: 1000, durations: [400], want: [0, 1000, 2000, 3000] },
    { case: 'a cycle as long as the interval: back to back', interval: 1000, durations: [1000], want: [0, 1000, 2000, 3000] },
    {
      case: 'an overrun delays only the next start, with no catch-up burst',
      interval: 1000,
      durations: [2500, 100],
      want: [0, 2500, 3500, 4500],
    },
    { case: 'sub-second intervals', interval: 300, durations: [50], want: [0, 300, 600, 900] },
  ])('$case', async ({ interval, durations, want }) => {
    expect(await starts(interval, durations, want.length)).toEqual(want);
  });

  it('stops without sleeping when aborted during a cycle, and never starts one when aborted before', async () => {
    const timer = virtualTimer();
    const stop = new AbortController();
    let runs = 0;
    await runEvery(
      60_000,
      stop.signal,
      async () => {
        runs++;
        stop.abort();
      },
      timer,
    );
    expect([runs, timer.now()]).toEqual([1, 0]);
    await runEvery(
      60_000,
      stop.signal,
      async () => {
        runs++;
      },
      timer,
    );
    expect(runs).toBe(1);
  });
});

describe('coalesce', () => {
  /** Work whose runs finish only when the test says so. */
  function controlledWork() {
    const runs: Array<() => void> = [];
    const work = () => new Promise<void>((done) => runs.push(done));
    return { runs, work };
  }

  it('runs at once when idle, and once more after the running one however many ask meanwhile', async () => {
    const { runs, work } = controlledWork();
    const request = coalesce(work);
    const first = request();
    const second = request();
    const third = request();
    expect(runs).toHaveLength(1);
    expect(second).toBe(third); // one queued run serves every request made during the first
    runs[0]!();
    await first;
    await Promise.resolve();
    await Promise.resolve();
    expect(runs).toHaveLength(2);
    runs[1]!();
    await second;
    expect(runs).toHaveLength(2);
    // Idle again: the next request starts a run of its own.
    const fourth = request();
    expect(runs).toHaveLength(3);
    runs[2]!();
    await fourth;
  });

  it('a failed run does not stop the queued one', async () => {
    let calls = 0;
    const request = coalesce(async () => {
      calls++;
      if (calls === 1) throw new Error('first fails');
    });
    const first = request();
    const second = request();
    await expect(first).rejects.toThrow('first fails');
    await second;
    expect(calls).toBe(2);
  });
});

describe('throttle', () => {
  it('runs once per burst of requests, after the gap; a later request starts a new wait; cancel drops it', () => {
    vi.useFakeTimers();
    try {
      let runs = 0;
      const throttled = throttle(() => runs++, 200);
      throttled.request();
      vi.advanceTimersByTime(150);
      throttled.request();
      throttled.request();
      expect(runs).toBe(0);
      vi.advanceTimersByTime(50);
      expect(runs).toBe(1);
      vi.advanceTimersByTime(1000);
      expect(runs).toBe(1);
      throttled.request();
      vi.advanceTimersByTime(200);
      expect(runs).toBe(2);
      throttled.request();
      throttled.cancel();
      vi.advanceTimersByTime(1000);
      expect(runs).toBe(2);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('familyObservations', () => {
  const seen = (up: boolean) => ({ up, sites: [] });
  const all = { isp1: seen(true), 'isp1/6': seen(false), lte: seen(true), 'v6only/6': seen(true) };
  it.each([
    [4, { isp1: seen(true), lte: seen(true) }],
    [6, { isp1: seen(false), v6only: seen(true) }],
  ] as const)('IPv%s: its own paths, by gateway name', (family, expected) => {
    expect(familyObservations(all, family)).toEqual(expected);
  });
});
