// Events about the main table's default route as a whole (not a switch) and their log lines;
// events.ts merges them into the one formatter table.
import type { Level } from './events.js';

export type RouteEvent =
  | { kind: 'foreign-default'; route: string; ours?: string; action: string }
  | { kind: 'foreign-default-gone'; route: string }
  | { kind: 'default-restore-failed'; route: string; gateway: string; error: string };

type Formatters = { [K in RouteEvent['kind']]: { level: Level; line: (event: Extract<RouteEvent, { kind: K }>) => string } };

export const routeFormatters: Formatters = {
  'foreign-default': {
    level: 'error',
    line: (e) =>
      `the kernel routes by a default route netgwm did not set: ${e.route}${e.ours ? `, ahead of ${e.ours}'s` : ''}; ${e.action} ` +
      `(logged once; remove that route, or give it a metric above 0, so that netgwm's route is the one used)`,
  },
  'foreign-default-gone': { level: 'info', line: (e) => `the default route ${e.route} that was used instead of netgwm's is gone` },
  'default-restore-failed': {
    level: 'error',
    line: (e) => `could not put ${e.gateway}'s default route back in front of ${e.route}: ${e.error}`,
  },
};
