// Everything netgwm logs is one of these events. The formatter table is typed over every kind,
// so a new event does not compile until it has a readable line and a level.
import { formatDuration } from '../core/decide.js';
import type { CoreEvent } from '../core/events.js';
import { reasonDetail, type HealthStatus } from '../core/health.js';
import type { GatewayInfo, GatewayObservation } from '../core/types.js';
import { clusterFormatters, type ClusterEvent } from './cluster-events.js';
import { firewallFormatters, type FirewallEvent } from './firewall-events.js';
import { recordFormatters, type RecordEvent } from './record-events.js';
import { reportFormatters, type ReportEvent } from './report-events.js';
import { routeFormatters, type RouteEvent } from './route-events.js';
import { siteFormatters, type SiteEvent } from './site-events.js';
import { webFormatters, type WebEvent } from './web-events.js';
import type { HookResult } from '../system/hooks.js';

export type ShellEvent =
  | { kind: 'switched'; to: GatewayInfo; from?: GatewayInfo; reason: string }
  | { kind: 'switch-failed'; to: GatewayInfo; reason: string; error: string }
  | { kind: 'hooks-resumed'; to: string; hooks: number }
  | { kind: 'hook-refused'; hook: string; reason: string; fix: string }
  | { kind: 'state-save-failed'; dir: string; error: string }
  | ({ kind: 'hook-finished' } & HookResult)
  | { kind: 'site-unresolved'; site: string; error: string; usingCached?: string; retryInMs: number }
  | { kind: 'site-resolved'; site: string; address: string; failedForMs: number; failures: number }
  | { kind: 'site-unusable'; site: string; address: string; why: string; usingCached?: string }
  | { kind: 'probe-paths-repaired'; what: string[] }
  | { kind: 'probe-ports-shared'; ranges: string[] }
  | { kind: 'uplink-tables-repaired'; what: string[] }
  | { kind: 'uplink-tables-failed'; what: string[] }
  | { kind: 'state-unreadable'; file: string; problem: string }
  | { kind: 'config-error'; problems: string[] }
  | { kind: 'config-reloaded'; file: string }
  | { kind: 'lock-busy'; waitedMs: number }
  | { kind: 'cycle-failed'; error: string }
  | { kind: 'cycle-done'; durationMs: number; current?: string; probed: string[] }
  | { kind: 'daemon-started'; intervalS: number; file: string; version: string }
  | { kind: 'daemon-stopping'; signal: string }
  | { kind: 'probe-fallback'; error: string }
  | { kind: 'gateway-health'; gateway: string; from: HealthStatus; to: HealthStatus; reason: string }
  | { kind: 'mode-ignored'; file: string; value?: string; problem?: string };

export type NetgwmEvent =
  | CoreEvent
  | ShellEvent
  | FirewallEvent
  | ReportEvent
  | RouteEvent
  | RecordEvent
  | ClusterEvent
  | SiteEvent
  | WebEvent;
export type Level = 'debug' | 'info' | 'warn' | 'error';

type Formatters = {
  [K in NetgwmEvent['kind']]: {
    level: Level | ((event: Extract<NetgwmEvent, { kind: K }>) => Level);
    line: (event: Extract<NetgwmEvent, { kind: K }>) => string;
  };
};

export const formatters: Formatters = {
  ...firewallFormatters,
  ...reportFormatters,
  ...recordFormatters,
  ...siteFormatters,
  ...routeFormatters,
  ...clusterFormatters,
  ...webFormatters,
  'gateway-up': { level: 'info', line: (e) => `gateway ${e.gateway} up: ${describeObservation(e.observation)}` },
  'gateway-down': { level: 'warn', line: (e) => `gateway ${e.gateway} down: ${describeObservation(e.observation)}` },
  'all-down': { level: 'error', line: (e) => `all gateways down; keeping the current route${e.current ? ` (${e.current})` : ''}` },
  recovered: { level: 'info', line: (e) => `a gateway answers again after ${Math.round(e.downForMs / 1000)} s with all gateways down` },
  'pinned-down': {
    level: 'warn',
    line: (e) => `pinned gateway ${e.gateway} is down; staying on it (run \`netgwm use auto\` to let netgwm choose)`,
  },
  'clock-went-back': {
    level: 'warn',
    line: (e) => `the clock went back by ${Math.round(e.byMs / 1000)} s; gateways must prove stable again`,
  },
  switched: {
    level: 'info',
    line: (e) => `route replaced to: ${describeRoute(e.to)} (${e.to.name}, was ${e.from?.name ?? 'none'}: ${e.reason})`,
  },
  'switch-failed': {
    level: 'error',
    line: (e) => `could not replace the route to ${describeRoute(e.to)} (${e.to.name}: ${e.reason}); hooks not run: ${e.error}`,
  },
  'hook-finished': {
    level: (e) => (e.exitCode === 0 ? 'info' : 'warn'),
    line: (e) =>
      `hook ${e.hook} ${e.timedOut ? 'killed after timeout' : e.signal ? `killed by ${e.signal}` : e.exitCode === undefined ? 'could not be started' : `exited ${e.exitCode}`} in ${(e.durationMs / 1000).toFixed(2)} s` +
      `${e.stdoutTail ? `; output${droppedNote(e.stdoutDropped)}: ${e.stdoutTail}` : ''}${e.stderrTail ? `; stderr${droppedNote(e.stderrDropped)}: ${e.stderrTail}` : ''}`,
  },
  'hook-refused': { level: 'error', line: (e) => `hook ${e.hook} not run: ${e.reason}; if you trust its content, run \`${e.fix}\`` },
  'hooks-resumed': {
    level: 'warn',
    line: (e) => `running the ${e.hooks} hook(s) of the switch to ${e.to} that an interrupted cycle did not run`,
  },
  'site-unusable': {
    level: 'error',
    line: (e) =>
      `check site ${e.site}${e.address === e.site ? ' is' : ` resolved to ${e.address}, which is`} ${e.why}; ${e.usingCached ? `using its last address ${e.usingCached}` : 'skipping it this cycle'}`,
  },
  'state-save-failed': {
    level: 'error',
    line: (e) => `cannot save the state in ${e.dir} (${e.error}); the next cycle works from the last saved state`,
  },
  'site-unresolved': {
    level: 'warn',
    line: (e) =>
      `check site ${e.site} did not resolve (${e.error}); ${e.usingCached ? `using its last address ${e.usingCached}` : 'skipping it'} until it does; ` +
      `retrying in ${formatDuration(e.retryInMs)}, then less and less often (reported again when it resolves)`,
  },
  'site-resolved': {
    level: 'info',
    line: (e) =>
      `check site ${e.site} resolves again, to ${e.address}, after ${e.failures} failed lookup(s) in ${formatDuration(e.failedForMs)}`,
  },
  'probe-paths-repaired': { level: 'info', line: (e) => `probe paths installed or repaired: ${e.what.join('; ')}` },
  'probe-ports-shared': {
    level: 'warn',
    line: (e) =>
      `probe ports ${e.ranges.join(',')} are in net.ipv4.ip_local_port_range: the kernel may give them to other programs, whose connections would then leave through a probe path; reserve them with sysctl net.ipv4.ip_local_reserved_ports=${e.ranges.join(',')} (in /etc/sysctl.d/) or move probe.port_base`,
  },
  'uplink-tables-repaired': { level: 'info', line: (e) => `uplink tables filled or repaired: ${e.what.join('; ')}` },
  'uplink-tables-failed': {
    level: 'warn',
    line: (e) => `could not fill the uplink tables (tried again next cycle): ${e.what.join('; ')}`,
  },
  'state-unreadable': { level: 'warn', line: (e) => `state file ${e.file} unusable (${e.problem}); starting with no history` },
  'config-error': { level: 'error', line: (e) => `config error: ${e.problems.join('; ')}` },
  'config-reloaded': { level: 'info', line: (e) => `config reloaded from ${e.file}` },
  'lock-busy': { level: 'warn', line: (e) => `another netgwm cycle is running; gave up after waiting ${(e.waitedMs / 1000).toFixed(1)} s` },
  'cycle-failed': { level: 'error', line: (e) => `cycle failed: ${e.error}` },
  'cycle-done': {
    level: 'debug',
    line: (e) => `cycle done in ${e.durationMs} ms on ${e.current ?? 'no gateway'}; probed ${e.probed.join(', ') || 'nothing'}`,
  },
  'daemon-started': {
    level: 'info',
    line: (e) =>
      `netgwm ${e.version} daemon started: watching every uplink continuously, housekeeping every ${e.intervalS} s, config ${e.file}`,
  },
  'daemon-stopping': { level: 'info', line: (e) => `daemon stopping on ${e.signal}` },
  'gateway-health': {
    level: (e) => (e.to === 'up' ? 'info' : 'warn'),
    line: (e) => `gateway ${e.gateway} ${e.to} (was ${e.from}): ${e.reason}`,
  },
  'probe-fallback': { level: 'warn', line: (e) => `native ICMP unavailable (${e.error}); probing with ping(8) instead` },
  'mode-ignored': {
    level: 'warn',
    line: (e) =>
      `${e.file} ${e.problem === undefined ? `names ${JSON.stringify(e.value)}, which is not a configured gateway` : `is unusable (${e.problem})`}; ignoring it (run \`netgwm use auto\` or \`netgwm use NAME\`)`,
  },
};

/** How much of a hook's output netgwm read but did not keep. */
function droppedNote(bytes: number): string {
  return bytes > 0 ? ` (${bytes} earlier bytes dropped)` : '';
}

export function describeRoute(gateway: GatewayInfo): string {
  return [gateway.ip && `via ${gateway.ip}`, gateway.dev && `dev ${gateway.dev}`].filter(Boolean).join(' ');
}

/** `2/2 sites answered (198.51.100.1 0.3 ms, 198.51.100.2 no reply)` or why nothing was probed. */
export function describeObservation(observation: GatewayObservation): string {
  // A health reason starts with the state the log line already names (`down: loss 42 % …`).
  if (observation.reason) return reasonDetail(observation.reason);
  if (observation.error) return observation.error;
  const probed = observation.sites.filter((site) => !site.skipped);
  const answered = probed.filter((site) => site.answered);
  const detail = probed.map((site) => `${site.site} ${site.answered ? `${site.rttMs?.toFixed(1) ?? '?'} ms` : (site.error ?? 'no reply')}`);
  return `${answered.length}/${probed.length} sites answered (${detail.join(', ')})`;
}

export function levelOf(event: NetgwmEvent): Level {
  const level = formatters[event.kind].level as Level | ((e: NetgwmEvent) => Level);
  return typeof level === 'function' ? level(event) : level;
}

export function lineOf(event: NetgwmEvent): string {
  return (formatters[event.kind].line as (e: NetgwmEvent) => string)(event);
}
