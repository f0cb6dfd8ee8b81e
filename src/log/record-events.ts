// Events of the probe recording (src/state/recorder.ts) and their log lines; events.ts merges
// them into the one formatter table.
import type { Level } from './events.js';

export type RecordEvent =
  | { kind: 'record-failed'; file: string; error: string; waitingLimit: number }
  | { kind: 'record-resumed'; file: string; dropped: number };

type Formatters = { [K in RecordEvent['kind']]: { level: Level; line: (event: Extract<RecordEvent, { kind: K }>) => string } };

export const recordFormatters: Formatters = {
  'record-failed': {
    level: 'error',
    line: (e) =>
      `cannot write the probe recording ${e.file} (${e.error}); monitoring is not affected; up to ${Math.round(e.waitingLimit / 1024)} KB of probe results wait for the next try, newer ones are dropped (logged once, and again when it works)`,
  },
  'record-resumed': {
    level: 'info',
    line: (e) => `probe recording ${e.file} written again${e.dropped > 0 ? `; ${e.dropped} probe results were dropped meanwhile` : ''}`,
  },
};
