// The README's replay table (`npm run replay-table`): the shipped config (etc/netgwm/netgwm.yml,
// every probe setting at its default) replayed on every shipped scenario (examples/scenarios/),
// by the daemon's policy and by the original NetGWM's (netgwm-classic). Prints a Markdown table.
import { readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { loadConfig, type Config } from '../src/config/load.js';
import type { Truth } from '../src/core/scenario.js';
import { replay, scenarioSource, type ReplayReport } from '../src/replay/cli.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const SHIPPED_CONFIG = `${ROOT}etc/netgwm/netgwm.yml`;
export const SCENARIOS = `${ROOT}examples/scenarios/`;

/** The shipped config, its routing table names looked up in the repository's etc/iproute2. */
export function shippedConfig(): Promise<Config> {
  return loadConfig(SHIPPED_CONFIG, { rtTablesRoot: ROOT });
}

export async function scenarioFiles(): Promise<string[]> {
  return (await readdir(SCENARIOS))
    .filter((name) => name.endsWith('.yml'))
    .sort()
    .map((name) => `${SCENARIOS}${name}`);
}

/** Both policies on one scenario, housekeeping every 60 s (the daemon's default), and the scenario's truth. */
export async function replayBoth(config: Config, file: string): Promise<{ netgwm: ReplayReport; classic: ReplayReport; truth: Truth }> {
  const source = await scenarioSource(file, [config]);
  const options = { housekeepingMs: 60_000 };
  const [netgwm, classic] = await Promise.all([
    replay(config, source, { ...options, policy: 'netgwm' }),
    replay(config, source, { ...options, policy: 'netgwm-classic' }),
  ]);
  return { netgwm, classic, truth: source.eventsFor(config).truth! };
}

async function main(): Promise<void> {
  const config = await shippedConfig();
  const rows = [
    '| scenario | netgwm: switches | netgwm: s on a dead uplink | netgwm-classic: switches | netgwm-classic: s on a dead uplink |',
    '| --- | --- | --- | --- | --- |',
  ];
  for (const file of await scenarioFiles()) {
    const { netgwm, classic } = await replayBoth(config, file);
    const name = netgwm.source.replace(/ \(.*$/, '');
    const cell = (report: ReplayReport) => [String(report.summary.switches), String(Math.round(report.summary.deadSeconds! * 10) / 10)];
    rows.push(`| ${name} (\`${file.replace(/^.*\//, '')}\`) | ${[...cell(netgwm), ...cell(classic)].join(' | ')} |`);
  }
  process.stdout.write(`${rows.join('\n')}\n`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
