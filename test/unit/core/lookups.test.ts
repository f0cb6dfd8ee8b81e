import { describe, expect, it } from 'vitest';
import { LOOKUP_RETRY, lookupDue, lookupFailed } from '../../../src/core/lookups.js';
import type { LookupFailure } from '../../../src/core/types.js';

const MINUTE = 60_000;

describe('lookupFailed', () => {
  it('doubles the wait after each failure, from the first wait up to the cap, keeping when it started', () => {
    let failure: LookupFailure | undefined;
    const waits: number[] = [];
    for (let i = 0, now = 1_000; i < 8; i++) {
      failure = lookupFailed(failure, now, `failure ${i}`);
      waits.push((failure.retryAt - now) / MINUTE);
      now = failure.retryAt;
    }
    expect(LOOKUP_RETRY).toEqual({ firstMs: MINUTE, maxMs: 30 * MINUTE });
    expect(waits).toEqual([1, 2, 4, 8, 16, 30, 30, 30]);
    expect(failure).toMatchObject({ since: 1_000, failures: 8, error: 'failure 7' });
  });
});

describe('lookupDue', () => {
  const failure: LookupFailure = { since: 0, failures: 3, retryAt: 10 * MINUTE, error: 'x' };
  it.each([
    ['a name that never failed', undefined, 0, true],
    ['before its retry time', failure, 10 * MINUTE - 1, false],
    ['at its retry time', failure, 10 * MINUTE, true],
    ['after it', failure, 11 * MINUTE, true],
    // The retry is further away than the longest wait: the clock went back.
    ['after the clock went back', failure, 10 * MINUTE - LOOKUP_RETRY.maxMs - 1, true],
  ])('%s: %s', (_, record, now, due) => {
    expect(lookupDue(record, now)).toBe(due);
  });
});
