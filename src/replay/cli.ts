// `netgwm replay`: what a config would have done on recorded probes (the daemon's `record` file)
// or on a scripted scenario (examples/scenarios/*.yml), on a virtual clock. No root, no network,
// nothing changed: it reads the config, the recording or scenario, and the hooks directory.
import { parseArgs } from 'node:util';
import { familyView } from '../config/families.js';
import { DEFAULT_CONFIG_FILE, loadConfig, type Config } from '../config/load.js';
import { healthSettings } from '../config/health.js';
import { replayClassic } from '../core/classic.js';
import { formatDuration } from '../core/decide.js';
import type { ProbeEvent } from '../core/probe-events.js';
import { recordingEvents } from '../state/recording.js';
import { eventWindow, replayDaemon, summarize, type ReplayRun, type ReplaySummary } from '../core/replay.js';
import { scenarioEvents, type Scenario, type Truth } from '../core/scenario.js';
import { UsageError } from '../errors.js';
import { EXIT } from '../exit-codes.js';
import { readRegularFile } from '../system/regular-file.js';
import { parseScenario, SCENARIO_LIMITS } from './scenario-file.js';

export const POLICIES = ['netgwm', 'netgwm-classic'] as const;
export type Policy = (typeof POLICIES)[number];

/** Rounds a replay may hold in memory (a day of 2 gateways at the defaults is 1.15 M). */
const MAX_ROUNDS = 20_000_000;

const HELP = `Usage: netgwm replay [-c FILE] (--scenario FILE | --recorded FILE...) [--json]
                     [--compare OTHER_CONFIG] [--policy netgwm|netgwm-classic] [--interval SECONDS]

Replays probe results through the daemon's own monitor and decision (the same code, on a virtual
clock) and prints the switches it would have made, with their reasons, the health changes, and a
summary: switches, time on a gateway the scenario says was dead, time on a worse gateway while a
better one was stable, hooks that would have run. Needs no root and no network; changes nothing.

Options:
  -c, --config FILE        config file (default ${DEFAULT_CONFIG_FILE})
      --scenario FILE      a scripted scenario (YAML; see examples/scenarios/ and netgwm(8))
      --recorded FILE...   the daemon's recording (record.file; give FILE.1 first, then FILE)
      --compare CONFIG     replay with this config too and print both summaries side by side
      --policy POLICY      netgwm (default): the daemon's; netgwm-classic: the original NetGWM's
                           (a run every 60 s, up when a site answers ping -c 2 -W 1, min_uptime)
      --interval SECONDS   the daemon's housekeeping interval (default: $INTERVAL, else 60)
      --json               machine-readable output
  -h, --help               show this help

Exit codes: 0 replayed, 1 a recording could not be read, 2 bad config, scenario or usage.`;

export interface ReplaySource {
  /** What is replayed, for the output: the scenario's name or the recording's files. */
  label: string;
  /** The events for a config (a scenario's depend on its gateways, sites and probe pace). */
  /** The events in the order the monitor saw them; gone through twice (the window, then the replay). */
  eventsFor: (config: Config) => { events: Iterable<ProbeEvent>; truth?: Truth; startAt?: number; endAt?: number; start?: string };
}

export interface ReplayReport {
  config: string;
  policy: Policy;
  source: string;
  startAt: number;
  endAt: number;
  start?: string;
  switches: ReplayRun['switches'];
  health: ReplayRun['health'];
  decisions: number;
  summary: ReplaySummary;
  /** The hooks each switch would run (hooks_dir as listed now); undefined when it cannot be read. */
  hooks?: string[];
  hooksDir: string;
}

export async function runReplay(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c', default: DEFAULT_CONFIG_FILE },
      scenario: { type: 'string' },
      recorded: { type: 'string', multiple: true },
      compare: { type: 'string' },
      policy: { type: 'string', default: 'netgwm' },
      interval: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return print(HELP);
  const recorded = [...(values.recorded ?? []), ...(values.recorded ? positionals : [])];
  if (positionals.length > 0 && !values.recorded)
    throw new UsageError(`replay: unexpected argument "${positionals[0]}"; see netgwm replay --help`);
  if ((values.scenario === undefined) === (recorded.length === 0))
    throw new UsageError('replay: expected either --scenario FILE or --recorded FILE...');
  const policy = values.policy as Policy;
  if (!POLICIES.includes(policy))
    throw new UsageError(`replay: --policy: expected one of ${POLICIES.join(', ')}, got ${JSON.stringify(values.policy)}`);
  const intervalText = values.interval ?? process.env.INTERVAL ?? '60';
  const interval = Number(intervalText);
  if (intervalText.trim() === '' || !Number.isFinite(interval) || interval <= 0)
    throw new UsageError(`replay: --interval: expected a number of seconds above 0, got ${JSON.stringify(intervalText)}`);

  // The IPv4 decision: a dual-stack recording's IPv6 paths (`isp1/6`) name no IPv4 gateway.
  const configs = [familyView(await loadConfig(values.config), 4)];
  if (values.compare !== undefined) configs.push(familyView(await loadConfig(values.compare), 4));
  const source = values.scenario !== undefined ? await scenarioSource(values.scenario, configs) : await recordedSource(recorded);
  const reports = await Promise.all(configs.map((config) => replay(config, source, { policy, housekeepingMs: interval * 1000 })));
  if (values.json) return print(JSON.stringify(reports.length === 1 ? reports[0] : { compare: reports }, null, 2));
  return print(reports.length === 1 ? describeReport(reports[0]!) : describeComparison(reports));
}

/** Replays `source` with `config`; the hooks are listed from its hooks_dir (as root would run them). */
export async function replay(
  config: Config,
  source: ReplaySource,
  options: { policy: Policy; housekeepingMs: number },
): Promise<ReplayReport> {
  const { events, truth, ...given } = source.eventsFor(config);
  // A scenario and a recording know their span; going through the events for it is the fallback.
  const { startAt, endAt } =
    given.startAt !== undefined && given.endAt !== undefined ? { startAt: given.startAt, endAt: given.endAt } : eventWindow(events);
  const window = { ...given, startAt, endAt };
  const start = window.start ?? config.gateways[0]?.name;
  const setup = {
    gateways: config.gateways,
    settings: healthSettings(config),
    minUptimeMs: config.min_uptime * 1000,
    checkAllGateways: config.check_all_gateways,
    mode: config.mode ?? 'auto',
    housekeepingMs: options.housekeepingMs,
  };
  const run =
    options.policy === 'netgwm' ? replayDaemon(setup, events, { ...window, start }) : replayClassic(setup, events, { ...window, start });
  const hooks = await listedHooks(config.hooks_dir);
  const summary = summarize(run, setup, hooks?.length ?? 0, truth);
  const report: ReplayReport = {
    config: config.file,
    policy: options.policy,
    source: source.label,
    ...run,
    summary,
    hooksDir: config.hooks_dir,
  };
  if (hooks) report.hooks = hooks;
  else delete report.summary.hookRuns;
  return report;
}

export async function scenarioSource(file: string, configs: Config[]): Promise<ReplaySource> {
  const text = await readRegularFile(file, SCENARIO_LIMITS.bytes + 1).catch((error: Error) => {
    throw new UsageError(`replay: cannot read the scenario ${file}: ${error.message}`);
  });
  // Checked against every config replayed: each must have the gateways and sites it names.
  const scenarios = configs.map((config) =>
    parseScenario(text, file, { gateways: config.gateways.map((gateway) => gateway.name), sites: config.check_sites }),
  );
  return scenarioSourceOf(scenarios[0]!, file);
}

/** A parsed scenario as a source: its events for a config, from epoch 0. */
export function scenarioSourceOf(scenario: Scenario, file: string): ReplaySource {
  // A scenario's events depend on the config's gateways, sites and pace: made once per config.
  const made = new WeakMap<Config, ReturnType<ReplaySource['eventsFor']>>();
  const make = (config: Config): ReturnType<ReplaySource['eventsFor']> => {
    const intervalMs = config.probe.interval * 1000;
    const rounds = Math.ceil(scenario.durationMs / intervalMs) * config.gateways.length;
    if (rounds > MAX_ROUNDS)
      throw new UsageError(
        `replay: ${file}: ${rounds} rounds (duration / probe.interval × gateways); expected at most ${MAX_ROUNDS}: shorten the duration`,
      );
    const setup = {
      gateways: config.gateways,
      // Method sites too (by their keys), as if probed every round: a scenario scripts what answers, not when.
      sites: config.check_sites,
      intervalMs,
      timeoutMs: config.probe.timeout * 1000,
      startAt: 0,
    };
    const { events, truth } = scenarioEvents(scenario, setup);
    return { events, truth, startAt: 0, endAt: scenario.durationMs, ...(scenario.start && { start: scenario.start }) };
  };
  return {
    label: `${scenario.name} (${file})`,
    eventsFor(config) {
      const events = made.get(config) ?? make(config);
      made.set(config, events);
      return events;
    },
  };
}

/**
 * The recorder's files (FILE.1 then FILE), decoded a block at a time: a day is over a million
 * rounds, which a replay goes through without keeping. A recording is in the order the monitor
 * saw it by construction. A damaged end (a write cut short) is skipped, with a warning.
 */
async function recordedSource(files: string[]): Promise<ReplaySource> {
  const warn = (message: string) => process.stderr.write(`netgwm replay: warning: ${message}\n`);
  const { events, span } = await recordingEvents(files, { onDamaged: warn });
  return { label: files.join(' '), eventsFor: () => ({ events, ...span }) };
}

async function listedHooks(dir: string): Promise<string[] | undefined> {
  const { listHooks } = await import('../system/hook-list.js');
  try {
    // As the daemon (root) would run them.
    return (await listHooks(dir, 0)).hooks.map((path) => path.replace(/^.*\//, ''));
  } catch {
    return undefined;
  }
}

/** `+1:02:03.450` after the start. */
function clock(ms: number): string {
  const total = Math.max(0, Math.round(ms));
  const [h, m, s, milli] = [Math.floor(total / 3_600_000), Math.floor(total / 60_000) % 60, Math.floor(total / 1000) % 60, total % 1000];
  return `+${h}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}.${String(milli).padStart(3, '0')}`;
}

export function describeReport(report: ReplayReport): string {
  const lines = [
    `Replay of ${report.source}`,
    `with ${report.config}, policy ${report.policy}: ${formatDuration(report.endAt - report.startAt)} from ${new Date(report.startAt).toISOString()}; the route starts on ${report.start ?? 'no gateway'}`,
    '',
  ];
  const entries = [
    ...report.health.map((entry) => ({
      at: entry.at,
      text: `${entry.gateway} ${entry.to}${entry.from === 'unknown' ? '' : ` (was ${entry.from})`}: ${entry.reason.replace(/^(up|down|degraded|unknown): /, '')}`,
    })),
    ...report.switches.map((entry) => ({ at: entry.at, text: `switch ${entry.from ?? 'none'} → ${entry.to}: ${entry.reason}` })),
  ].sort((a, b) => a.at - b.at);
  for (const entry of entries) lines.push(`  ${clock(entry.at - report.startAt)}  ${entry.text}`);
  if (entries.length === 0) lines.push('  (nothing happened)');
  lines.push('', 'Summary:', ...summaryRows(report).map(([label, value]) => `  ${label.padEnd(48)} ${value}`));
  return lines.join('\n');
}

function describeComparison(reports: ReplayReport[]): string {
  const rows = reports.map(summaryRows);
  const widths = reports.map((report, index) => Math.max(report.config.length, ...rows[index]!.map(([, value]) => value.length)));
  const line = (label: string, values: string[]) =>
    `  ${label.padEnd(48)} ${values.map((value, i) => value.padEnd(widths[i]!)).join('   ')}`.trimEnd();
  return [
    `Replay of ${reports[0]!.source}, policy ${reports[0]!.policy}`,
    '',
    line(
      '',
      reports.map((report) => report.config),
    ),
    ...rows[0]!.map(([label], row) =>
      line(
        label,
        rows.map((values) => values[row]![1]),
      ),
    ),
  ].join('\n');
}

function summaryRows(report: ReplayReport): Array<[string, string]> {
  const { summary } = report;
  const seconds = (value: number | undefined) => (value === undefined ? 'n/a (no scenario truth)' : `${value} s`);
  const on = Object.entries(summary.secondsOn)
    .map(([name, value]) => `${name} ${formatDuration(value * 1000)}`)
    .join(', ');
  const changes = `${report.switches.length} route change${report.switches.length === 1 ? '' : 's'}`;
  const hooks =
    report.hooks === undefined
      ? `each route change runs the hooks (${report.hooksDir} is not readable here)`
      : report.hooks.length === 0
        ? `none (no hook in ${report.hooksDir})`
        : `${summary.hookRuns} (${changes} × ${report.hooks.length}: ${report.hooks.join(', ')})`;
  return [
    ['switches', String(summary.switches)],
    ['time on a dead uplink (by the scenario)', seconds(summary.deadSeconds)],
    ['time on a worse uplink while a better was stable', seconds(summary.worseSeconds)],
    ['time on each uplink', on || 'none'],
    ['hooks that would have run', hooks],
  ];
}

function print(text: string): number {
  process.stdout.write(`${text}\n`);
  return EXIT.ok;
}
