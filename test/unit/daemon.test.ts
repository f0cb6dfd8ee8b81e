import { describe, expect, it } from 'vitest';
import { runEvery, type Timer } from '../../src/daemon.js';

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
