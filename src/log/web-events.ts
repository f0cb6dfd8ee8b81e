// Events of the daemon's HTTP servers (metrics and status page, src/web/) and of the status
// page's series (src/state/series-store.ts) and their log lines; events.ts merges them into the
// one formatter table.
import type { Level } from './events.js';

export type WebEvent =
  /** `what`: what the server serves (`metrics`, `the status page`, or both); `key`: the config key naming its address. */
  | { kind: 'http-listening'; what: string; url: string }
  | { kind: 'http-listen-failed'; what: string; address: string; key: string; error: string }
  | { kind: 'http-accept-failed'; what: string; address: string; error: string }
  | { kind: 'web-passwords-unusable'; problem: string }
  | { kind: 'web-page-missing'; error: string }
  | { kind: 'series-unreadable'; file: string; problem: string }
  | { kind: 'series-save-failed'; file: string; error: string }
  | { kind: 'series-saved-again'; file: string };

type Formatters = { [K in WebEvent['kind']]: { level: Level; line: (event: Extract<WebEvent, { kind: K }>) => string } };

export const webFormatters: Formatters = {
  'http-listening': { level: 'info', line: (e) => `serving ${e.what} at ${e.url}` },
  'http-accept-failed': {
    level: 'warn',
    line: (e) => `cannot accept a connection for ${e.what} on ${e.address} (${e.error}); routing is not affected`,
  },
  'http-listen-failed': {
    level: 'error',
    line: (e) => `cannot serve ${e.what} on ${e.address} (${e.error}); the daemon runs on without it; fix ${e.key} and restart it`,
  },
  'web-passwords-unusable': {
    level: 'error',
    line: (e) => `the status page refuses every user: ${e.problem} (logged once, and again when it changes)`,
  },
  'web-page-missing': {
    level: 'error',
    line: (e) => `cannot read the status page's files (${e.error}); serving only its JSON (/api/…); reinstall netgwm`,
  },
  'series-unreadable': {
    level: 'warn',
    line: (e) => `cannot use the saved graphs in ${e.file} (${e.problem}); starting them afresh; routing is not affected`,
  },
  'series-save-failed': {
    level: 'warn',
    line: (e) =>
      `cannot save the graphs to ${e.file} (${e.error}); what was saved before is kept, monitoring goes on (logged once, and again when it works)`,
  },
  'series-saved-again': { level: 'info', line: (e) => `graphs saved to ${e.file} again` },
};
