// Reads, validates and compiles the config once, so a cycle only does what must be fresh.
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import type { Gateway } from '../core/types.js';
import { ConfigError } from '../errors.js';
import { configSchema, type ConfigFile } from './schema.js';
import { resolveRoutingTable } from './routing-tables.js';
import { checkFirewall, type FirewallCheckOptions } from './firewall.js';
import { checkReports } from './reports.js';

export const DEFAULT_CONFIG_FILE = '/etc/netgwm/netgwm.yml';


export interface Config extends Omit<ConfigFile, 'gateways' | 'hooks_dir'> {
  /** Absolute path of the file this came from. */
  file: string;
  /** Best (lowest priority number) first. */
  gateways: Gateway[];
  hooks_dir: string;
  /** `check_table` as a number, looked up once in the rt_tables files. */
  check_table_id: number;
}

/** Where the host's files are looked up (rt_tables, commands); tests point them elsewhere. */
export type LoadOptions = FirewallCheckOptions;

export async function loadConfig(file: string, options: LoadOptions = {}): Promise<Config> {
  const path = resolve(file);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ConfigError([`${path}: cannot read the config file: ${(error as Error).message}`]);
  }
  const data = parseYaml(text, path);
  return compileConfig(data, path, options);
}

/** YAML 1.1 like NetGWM's PyYAML, so `check_all_gateways: yes` keeps meaning true. */
const YAML_OPTIONS = { version: '1.1', prettyErrors: true, uniqueKeys: true } as const;

export function parseYaml(text: string, path: string): unknown {
  const document = parseDocument(text, YAML_OPTIONS);
  if (document.errors.length > 0) {
    throw new ConfigError(
      document.errors.map((error) => {
        const at = error.linePos?.[0];
        const where = at ? `line ${at.line}, column ${at.col}` : 'somewhere';
        return `${path}: ${where}: YAML syntax error: ${error.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`;
      }),
    );
  }
  return document.toJS() ?? {};
}

/** What can be read of a file despite YAML errors (`status` with a broken config): never throws. */
export function parseYamlLeniently(text: string): unknown {
  try {
    return parseDocument(text, YAML_OPTIONS).toJS() ?? {};
  } catch {
    return {};
  }
}

export async function compileConfig(data: unknown, path: string, options: LoadOptions = {}): Promise<Config> {
  const parsed = configSchema.safeParse(data, { reportInput: true });
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.flatMap((issue) => describeIssue(issue, path)), namedLogFile(data, path));
  }
  const file = parsed.data;
  const problems: string[] = [];
  const at = (key: string, message: string) => problems.push(`${path}: ${key}: ${message}`);

  const gateways = Object.entries(file.gateways)
    .map(([name, gateway]) => ({ name, ...gateway }))
    .sort((a, b) => a.priority - b.priority);
  for (let i = 1; i < gateways.length; i++) {
    const [before, gateway] = [gateways[i - 1]!, gateways[i]!];
    if (before.priority === gateway.priority) {
      at(`gateways.${gateway.name}.priority`, `priority ${gateway.priority} is also used by gateway "${before.name}"; give every gateway its own priority`);
    }
  }
  if (file.mode !== undefined && file.mode !== 'auto' && !(file.mode in file.gateways)) {
    at('mode', `expected "auto" or the name of a gateway (${Object.keys(file.gateways).join(', ')}), got "${file.mode}"`);
  }
  const table = await resolveRoutingTable(file.check_table, options.rtTablesRoot);
  if (typeof table === 'string') at('check_table', table);
  const firewall = await checkFirewall(file, gateways, typeof table === 'number' ? table : -1, options);
  firewall.problems.forEach(([key, message]) => at(key, message));
  checkReports(file).forEach(([key, message]) => at(key, message));
  if (problems.length > 0) throw new ConfigError(problems, namedLogFile(data, path));

  const here = dirname(path);
  return {
    ...file,
    file: path,
    gateways: gateways.map((gateway) => (firewall.tableIds.has(gateway.name) ? { ...gateway, table_id: firewall.tableIds.get(gateway.name) } : gateway)),
    state_dir: resolve(here, file.state_dir),
    log_file: resolve(here, file.log_file),
    hooks_dir: resolve(here, file.hooks_dir ?? 'post-replace.d'),
    check_table_id: table as number,
  };
}

function namedLogFile(data: unknown, path: string): string | undefined {
  const logFile = (data as { log_file?: unknown } | null)?.log_file;
  return typeof logFile === 'string' && logFile !== '' ? resolve(dirname(path), logFile) : undefined;
}

/** Turns one zod issue into `FILE: key.path: expected …, got …` lines. */
function describeIssue(issue: z.core.$ZodIssue, path: string): string[] {
  const key = issue.path.map(String).join('.') || '(top level)';
  // A scalar is worth quoting back; "got a mapping" after a rule about the mapping is noise.
  const scalar = 'input' in issue && (typeof issue.input !== 'object' || issue.input === null || (Array.isArray(issue.input) && issue.input.length === 0));
  const got = scalar ? `, got ${describeValue(issue.input)}` : '';
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((unknown) => `${path}: ${[...issue.path, unknown].join('.')}: unknown key; check its spelling (see netgwm(8))`);
    case 'invalid_type':
      if (issue.input === undefined) return [`${path}: ${key}: missing; expected ${article(issue.expected)}`];
      return [`${path}: ${key}: expected ${article(issue.expected)}${got}`];
    case 'invalid_value':
      return [`${path}: ${key}: expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}${got}`];
    case 'invalid_union':
      return [`${path}: ${key}: ${issue.message}${got}`];
    default:
      return [`${path}: ${key}: ${issue.message.replace(/^Too (small|big): /, '')}${got}`];
  }
}

function article(type: string): string {
  const names: Record<string, string> = { number: 'a number', string: 'a text', boolean: 'true or false', object: 'a mapping (key: value)', array: 'a list', record: 'a mapping (key: value)' };
  return names[type] ?? type;
}

function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (Array.isArray(value)) return value.length === 0 ? 'an empty list' : 'a list';
  if (typeof value === 'object') return 'a mapping';
  return JSON.stringify(value);
}
