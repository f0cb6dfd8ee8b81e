// Events about the main table's default route as a whole (not a switch) and their log lines;
// events.ts merges them into the one formatter table.
import type { Level } from './events.js';

export type RouteEvent =
  | { kind: 'foreign-default'; route: string; ours?: string; action: string }
  | { kind: 'foreign-default-gone'; route: string }
  | { kind: 'default-restore-failed'; route: string; gateway: string; error: string }
  | { kind: 'gateway-address'; gateway: string; dev: string; address?: string; was?: string; setting?: 'ip6: auto'; hint?: string }
  | { kind: 'default-followed'; gateway: string; route: string; was: string }
  | { kind: 'default-follow-failed'; gateway: string; route: string; error: string };

type Formatters = { [K in RouteEvent['kind']]: { level: Level; line: (event: Extract<RouteEvent, { kind: K }>) => string } };

export const routeFormatters: Formatters = {
  'foreign-default': {
    level: 'error',
    line: (e) =>
      `the kernel routes by a default route netgwm did not set: ${e.route}${e.ours ? `, ahead of ${e.ours}'s` : ''}; ${e.action} ` +
      `(logged once; remove that route, or give it a metric above 0, so that netgwm's route is the one used)`,
  },
  'foreign-default-gone': { level: 'info', line: (e) => `the default route ${e.route} that was used instead of netgwm's is gone` },
  'gateway-address': {
    level: 'info',
    line: (e) =>
      `gateway ${e.gateway} (${e.setting ?? 'ip: auto'}) ${e.address ? `is now ${e.address}` : 'has no address in the kernel: its routes go dev only'}` +
      `${e.was ? ` (was ${e.was})` : ''}, as the kernel has it for ${e.dev}${e.hint ? `; ${e.hint}` : ''}`,
  },
  'default-followed': {
    level: 'info',
    line: (e) => `netgwm's default route follows ${e.gateway} (ip: auto): ${e.route} (was ${e.was})`,
  },
  'default-follow-failed': {
    level: 'error',
    line: (e) => `could not move the default route to ${e.gateway}'s new address (${e.route}): ${e.error}`,
  },
  'default-restore-failed': {
    level: 'error',
    line: (e) => `could not put ${e.gateway}'s default route back in front of ${e.route}: ${e.error}`,
  },
};
