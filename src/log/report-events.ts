// Events of the reports (status files, metrics file) and their log lines; events.ts
// merges them into the one formatter table.
import type { Level } from './events.js';

export type ReportEvent = { kind: 'report-failed'; what: string; error: string };

type Formatters = { [K in ReportEvent['kind']]: { level: Level; line: (event: Extract<ReportEvent, { kind: K }>) => string } };

export const reportFormatters: Formatters = {
  'report-failed': { level: 'warn', line: (e) => `could not write ${e.what}: ${e.error}; routing is not affected` },
};
