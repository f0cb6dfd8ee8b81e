// Events of the check sites with a method (tcp, http, dns) in the daemon's monitor and their log
// lines: why a site stopped answering through a gateway (a captive portal's redirect, an HTTP
// error, a DNS failure), once when it starts and once when it answers again. events.ts merges them
// into the one formatter table.
import type { Level } from './events.js';

export type SiteEvent =
  | { kind: 'site-failing'; gateway: string; site: string; error: string }
  | { kind: 'site-answering'; gateway: string; site: string };

type Formatters = { [K in SiteEvent['kind']]: { level: Level; line: (event: Extract<SiteEvent, { kind: K }>) => string } };

export const siteFormatters: Formatters = {
  'site-failing': {
    level: 'warn',
    line: (e) => `check site ${e.site} does not answer through gateway ${e.gateway}: ${e.error} (logged once, and again when it answers)`,
  },
  'site-answering': { level: 'info', line: (e) => `check site ${e.site} answers through gateway ${e.gateway} again` },
};
