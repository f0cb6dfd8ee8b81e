// `netgwm status` and `netgwm history`: they read the config, the state and the log, never probe
// and never take the cycle lock, so they answer at once even while a cycle runs.
import { parseArgs } from 'node:util';
import { DEFAULT_CONFIG_FILE, loadConfig, type Config } from '../config/load.js';
import { ConfigError, UsageError } from '../errors.js';
import { EXIT } from '../exit-codes.js';
import { paint, wantsColor } from './paint.js';
import { readStatus, readStatusOfBrokenConfig } from './read-status.js';
import type { StatusDocument } from './status-document.js';
import { statusTable } from './status-table.js';

export const DEFAULT_HISTORY_LINES = 20;
const MAX_HISTORY_LINES = 10_000;

const COMMON = `  -c, --config FILE   config file (default ${DEFAULT_CONFIG_FILE})
      --json          machine-readable output (schema in netgwm(8) and the README)
  -h, --help          show this help`;

const HELP = {
  status: `Usage: netgwm status [-c FILE] [--json]

Shows each gateway as the last cycle recorded it: state and for how long, whether it is stable
(or when it will be), RTT of the last probe, mean/max RTT and loss over the recent window, sites
answered; the active gateway is marked with *. Then the mode, the last switch and the last cycle.
Reads the state file only: it never probes and never waits for a running cycle.
Colours on a terminal unless NO_COLOR is set.

Options:
${COMMON}

Exit codes: 0 shown (also "no status yet"), 1 the state file is unusable, 2 bad usage, or a config
that does not load: its problems go to stderr and the state the last cycle recorded is still shown.`,
  history: `Usage: netgwm history [-c FILE] [-n N] [--json]

Lists the last N switches (when, from, to, why, how long traffic stayed on the new uplink) and
outages (all gateways down: when, how long), oldest first, from the state and from the log file
including its rotated parts (LOG.1, LOG.2.gz, ...).

Options:
${COMMON}
  -n, --lines N       how many entries (default ${DEFAULT_HISTORY_LINES})

Exit codes: 0 shown, 1 a log part could not be read, 2 bad config or usage.`,
};

export async function runReport(command: 'status' | 'history', args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      config: { type: 'string', short: 'c', default: DEFAULT_CONFIG_FILE },
      json: { type: 'boolean' },
      lines: { type: 'string', short: 'n' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return print(HELP[command]);
  if (values.lines !== undefined && command !== 'history') throw new UsageError('-n/--lines is an option of `netgwm history`');
  const count = historyLines(values.lines);
  const json = values.json === true;
  if (command === 'status') return status(values.config, json);
  return history(await loadConfig(values.config), count, json);
}

async function status(file: string, json: boolean): Promise<number> {
  let doc: StatusDocument;
  try {
    doc = await readStatus(await loadConfig(file), Date.now());
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    // The problems on top (stderr), then the last state: a daemon may still run on its old config.
    process.stderr.write(`${error.problems.join('\n')}\n`);
    doc = await readStatusOfBrokenConfig(file, error.problems, Date.now());
  }
  print(json ? JSON.stringify(doc, null, 2) : statusTable(doc, wantsColor(process.stdout)).trimEnd());
  if (doc.config_problems.length > 0) return EXIT.usage;
  return doc.state_problem === null ? EXIT.ok : EXIT.failed;
}

async function history(config: Config, count: number, json: boolean): Promise<number> {
  // Loaded here, not at the top: status never needs them (readline and zlib).
  const [{ readHistoryDocument }, { historyTable }] = await Promise.all([import('./history.js'), import('./history-table.js')]);
  const doc = await readHistoryDocument(config, count, Date.now());
  print(json ? JSON.stringify(doc, null, 2) : historyTable(doc, paint(wantsColor(process.stdout))).trimEnd());
  return EXIT.ok;
}

function historyLines(text: string | undefined): number {
  if (text === undefined) return DEFAULT_HISTORY_LINES;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1 || value > MAX_HISTORY_LINES)
    throw new UsageError(`-n: expected a whole number from 1 to ${MAX_HISTORY_LINES}, got "${text}"`);
  return value;
}

function print(text: string): number {
  process.stdout.write(`${text}\n`);
  return EXIT.ok;
}
