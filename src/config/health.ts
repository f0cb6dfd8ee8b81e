// The `probe` keys of continuous monitoring: their cross-field checks at load time, and what
// they compile to for the health state machine (src/core/health.ts).
import type { MethodSite } from '../core/check-site.js';
import type { HealthSettings } from '../core/health.js';
import type { ConfigFile } from './schema.js';

/** Rounds one window may hold, so that the state kept per gateway stays small. */
export const MAX_WINDOW_ROUNDS = 3000;

type ProbeKeys = Pick<ConfigFile, 'probe' | 'check_sites'>;

/** `[key, message]` pairs; empty when the probe keys fit together. */
export function checkHealth(file: ProbeKeys): Array<[string, string]> {
  const { probe } = file;
  const problems: Array<[string, string]> = [];
  const sites = file.check_sites.length;
  if (probe.min_sites > sites) {
    problems.push([
      'probe.min_sites',
      `expected at most the number of check_sites (${sites}), got ${probe.min_sites}; no round could ever be good`,
    ]);
  }
  if (probe.loss_up > probe.loss_down) {
    problems.push([
      'probe.loss_up',
      `expected at most probe.loss_down (${probe.loss_down}), got ${probe.loss_up}; a gateway must come back up at a loss it would not go down at`,
    ]);
  }
  if ((probe.latency_down === undefined) !== (probe.latency_up === undefined)) {
    const [given, missing] = probe.latency_down === undefined ? ['latency_up', 'latency_down'] : ['latency_down', 'latency_up'];
    problems.push([
      `probe.${missing}`,
      `missing; probe.${given} needs it (e.g. latency_down: 300 with latency_up: 150), or remove probe.${given} to leave latency unjudged`,
    ]);
  } else if (probe.latency_up !== undefined && probe.latency_down !== undefined && probe.latency_up > probe.latency_down) {
    problems.push([
      'probe.latency_up',
      `expected at most probe.latency_down (${probe.latency_down}), got ${probe.latency_up}; a gateway must come back up at an RTT it would not go down at`,
    ]);
  }
  const rounds = Math.ceil(probe.window / probe.interval);
  if (rounds > MAX_WINDOW_ROUNDS) {
    problems.push([
      'probe.window',
      `${probe.window} s holds ${rounds} rounds at probe.interval ${probe.interval} s; expected at most ${MAX_WINDOW_ROUNDS}: shorten the window or raise the interval`,
    ]);
  }
  return problems;
}

/**
 * A method site's latest result counts in later rounds for twice its interval and timeout: long
 * enough to reach its next result, short enough that a site no longer probed (removed by a
 * reload) stops counting.
 */
export const CARRY_FACTOR = 2;

/** The probe keys (and the method sites' pace) in the units the state machine counts in. */
export function healthSettings(config: Pick<ConfigFile, 'probe'> & { method_sites?: MethodSite[] }): HealthSettings {
  const { probe } = config;
  const settings: HealthSettings = {
    intervalMs: probe.interval * 1000,
    timeoutMs: probe.timeout * 1000,
    down: probe.down,
    up: probe.up,
    minSites: probe.min_sites,
    windowMs: probe.window * 1000,
    lossDownPct: probe.loss_down,
    lossUpPct: probe.loss_up,
  };
  if (probe.latency_down !== undefined) settings.latencyDownMs = probe.latency_down;
  if (probe.latency_up !== undefined) settings.latencyUpMs = probe.latency_up;
  const sites = config.method_sites ?? [];
  if (sites.length > 0) {
    settings.carryMs = CARRY_FACTOR * Math.max(...sites.map((site) => (site.intervalMs ?? 0) + (site.timeoutMs ?? 0)));
    settings.methodTimeoutMs = Math.max(...sites.map((site) => site.timeoutMs ?? 0));
  }
  return settings;
}
