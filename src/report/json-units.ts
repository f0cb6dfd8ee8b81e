// How times and durations appear in the JSON of `status` and `history` (schema version 1).

/** ISO 8601 in UTC. */
export const iso = (ms: number) => new Date(ms).toISOString();

/** Seconds to 0.1, never negative (a clock stepped back must not show a negative age). */
export const seconds = (ms: number) => Math.round(Math.max(0, ms) / 100) / 10;
