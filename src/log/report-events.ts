// Events of the reports (status files, metrics file and endpoint) and their log lines; events.ts
// merges them into the one formatter table.
import type { Level } from './events.js';

export type ReportEvent =
  | { kind: 'report-failed'; what: string; error: string }
  | { kind: 'metrics-listening'; url: string }
  | { kind: 'metrics-listen-failed'; address: string; error: string }
  | { kind: 'metrics-accept-failed'; address: string; error: string };

type Formatters = { [K in ReportEvent['kind']]: { level: Level; line: (event: Extract<ReportEvent, { kind: K }>) => string } };

export const reportFormatters: Formatters = {
  'report-failed': { level: 'warn', line: (e) => `could not write ${e.what}: ${e.error}; routing is not affected` },
  'metrics-listening': { level: 'info', line: (e) => `serving metrics at ${e.url}` },
  'metrics-accept-failed': {
    level: 'warn',
    line: (e) => `cannot accept a metrics connection on ${e.address} (${e.error}); routing is not affected`,
  },
  'metrics-listen-failed': {
    level: 'error',
    line: (e) =>
      `cannot serve metrics on ${e.address} (${e.error}); the daemon runs on without the endpoint; fix metrics_listen and restart it`,
  },
};
