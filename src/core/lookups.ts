// When to look up a host-name check site again after its lookup failed. Pure: the times are
// wall-clock epoch ms kept in the state file, so that cron runs share the back-off.
import type { LookupFailure } from './types.js';

/** The first retry waits `firstMs`, each failed retry doubles the wait, up to `maxMs`. */
export const LOOKUP_RETRY = { firstMs: 60_000, maxMs: 30 * 60_000 } as const;

/** Whether a name may be looked up now: never failed, or its back-off is over. */
export function lookupDue(failure: LookupFailure | undefined, now: number): boolean {
  if (failure === undefined) return true;
  // A retry further away than the longest wait means the clock went back: do not wait for it.
  return now >= failure.retryAt || failure.retryAt - now > LOOKUP_RETRY.maxMs;
}

/** The failure record after one more failed lookup (the first one when `before` is undefined). */
export function lookupFailed(before: LookupFailure | undefined, now: number, error: string): LookupFailure {
  const failures = (before?.failures ?? 0) + 1;
  const waitMs = Math.min(LOOKUP_RETRY.firstMs * 2 ** (failures - 1), LOOKUP_RETRY.maxMs);
  return { since: before?.since ?? now, failures, retryAt: now + waitMs, error };
}
