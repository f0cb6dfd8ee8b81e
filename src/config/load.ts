// Reads, validates and compiles the config once, so a cycle only does what must be fresh.
import { dirname, resolve } from 'node:path';
import { isAlias, isMap, isScalar, LineCounter, parseDocument, visit, type Document, type Node } from 'yaml';
import type * as z from 'zod';
import type { MethodSite } from '../core/check-site.js';
import type { Gateway } from '../core/types.js';
import { ConfigError } from '../errors.js';
import { readRegularFile } from '../system/regular-file.js';
import { configSchema, GATEWAY_NAME_RULE, LIMITS, type ConfigFile } from './schema.js';
import { resolveRoutingTable } from './routing-tables.js';
import { checkFirewall, type FirewallCheckOptions } from './firewall.js';
import { checkReports, isRemote } from './reports.js';
import { checkPasswordFile } from '../web/password-file.js';
import { compileProbePaths } from './probe-paths.js';
import { checkHealth } from './health.js';
import { compileRecord, type RecordSettings } from './record.js';
import { checkBalance } from './balance.js';
import { escapeControl } from '../log/escape.js';
import { checkFamilies, configFamilies, type Family } from './families.js';
import { checkPeer, compileCluster, type ClusterSettings } from './cluster.js';
import { compileCheckSites } from './check-sites.js';

export const DEFAULT_CONFIG_FILE = '/etc/netgwm/netgwm.yml';

export interface Config extends Omit<ConfigFile, 'gateways' | 'hooks_dir' | 'record' | 'cluster' | 'check_sites'> {
  /** Absolute path of the file this came from. */
  file: string;
  /**
   * Every check site's key, in file order: the sites to ping as written (NetGWM's check_sites),
   * and the key of each site with a method (src/core/check-site.ts), whose details are in
   * `method_sites`. The pinged ones: pingedSites(check_sites).
   */
  check_sites: string[];
  /** The check sites with a method (tcp, http, dns), in file order (see ./check-sites.ts). */
  method_sites: MethodSite[];
  /** Best (lowest priority number) first. */
  gateways: Gateway[];
  hooks_dir: string;
  /** `check_table` as a number, looked up once in the rt_tables files. */
  check_table_id: number;
  /** false: no probe recording. */
  record: RecordSettings | false;
  /** Absent: a standalone router. */
  cluster?: ClusterSettings;
  /** The address families some gateway has, 4 first (see ./families.ts). */
  families: Family[];
  /** Set on the IPv6 view of a config only (absent: all families, or the IPv4 view). */
  family?: 6;
}

/** Where the host's files are looked up (rt_tables, commands); tests point them elsewhere. */
export interface LoadOptions extends FirewallCheckOptions {
  /** false: skip the `cluster.peer_config` check (used when loading the peer's config itself). */
  checkPeer?: boolean;
}

export async function loadConfig(file: string, options: LoadOptions = {}): Promise<Config> {
  const path = resolve(file);
  let text: string;
  try {
    text = await readRegularFile(path, LIMITS.configBytes);
  } catch (error) {
    throw new ConfigError([`${path}: cannot read the config file: ${(error as Error).message}`]);
  }
  const data = parseYaml(text, path);
  return compileConfig(data, path, options);
}

/** YAML 1.1 like NetGWM's PyYAML, so `check_all_gateways: yes` keeps meaning true. */
const YAML_OPTIONS = { version: '1.1', prettyErrors: true, uniqueKeys: true } as const;

export function parseYaml(text: string, path: string): unknown {
  const lineCounter = new LineCounter();
  // logLevel error: yaml would print its warnings (e.g. about a mapping used as a key) to stderr.
  const document = parseDocument(text, { ...YAML_OPTIONS, lineCounter, logLevel: 'error' });
  if (document.errors.length > 0) {
    // The first few say where it went wrong; a broken nesting can give a thousand more.
    throw new ConfigError(
      document.errors.slice(0, 10).map((error) => {
        const at = error.linePos?.[0];
        const where = at ? `line ${at.line}, column ${at.col}` : 'somewhere';
        return `${path}: ${where}: YAML syntax error: ${escapeControl(error.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, ''))}`;
      }),
    );
  }
  const aliasProblem = checkAliases(document);
  const where = (node: Node | undefined) => {
    const at = lineCounter.linePos(node?.range?.[0] ?? 0);
    return `${path}: line ${at.line}, column ${at.col}`;
  };
  if (aliasProblem) throw new ConfigError([`${where(aliasProblem.node)}: YAML alias error: ${aliasProblem.message}`]);
  try {
    return document.toJS({ maxAliasCount: LIMITS.aliasExpansions }) ?? {};
  } catch (error) {
    // yaml throws on too many alias expansions (an "alias bomb") and on bad merge keys (`<<`).
    const message = (error as Error).message;
    if (/alias count/i.test(message)) {
      throw new ConfigError([
        `${where(firstNode(document, isAlias))}: YAML alias error: the aliases expand to more than ${LIMITS.aliasExpansions} copies; write the values out instead`,
      ]);
    }
    throw new ConfigError([`${where(firstNode(document, isMergeKey))}: YAML error: ${escapeControl(message.split('\n')[0]!)}`]);
  }
}

/** What can be read of a file despite YAML errors (`status` with a broken config): never throws. */
/**
 * The config file's top-level mapping as far as it parses, `{}` when it cannot be read or is not a
 * mapping: for what still needs a key or two of a config that does not load. Never waits on a
 * FIFO, never reads more than a config may hold.
 */
export async function readConfigLeniently(file: string): Promise<Record<string, unknown>> {
  const data = parseYamlLeniently(await readRegularFile(file, LIMITS.configBytes).catch(() => ''));
  return (typeof data === 'object' && data !== null ? data : {}) as Record<string, unknown>;
}

export function parseYamlLeniently(text: string): unknown {
  try {
    return parseDocument(text, YAML_OPTIONS).toJS() ?? {};
  } catch {
    return {};
  }
}

/**
 * An alias with no anchor before it, or one inside the very node it names (an endless
 * structure). One pass keeping the anchors seen so far: yaml's own Alias.resolve walks the whole
 * document for each alias, minutes for a few thousand aliases.
 */
function checkAliases(document: Document): { node: Node; message: string } | undefined {
  const anchors = new Map<string, Node>();
  let problem: { node: Node; message: string } | undefined;
  visit(document, {
    Node(_key, node, path) {
      if (!isAlias(node)) {
        if (node.anchor) anchors.set(node.anchor, node);
        return undefined;
      }
      const source = anchors.get(node.source);
      const name = escapeControl(node.source);
      if (!source) problem = { node, message: `*${name} names no anchor before it; define &${name} first` };
      else if (path.includes(source)) problem = { node, message: `*${name} is inside the value it names, which would never end` };
      return problem ? visit.BREAK : undefined;
    },
  });
  return problem;
}

function firstNode(document: Document, test: (node: unknown) => boolean): Node | undefined {
  let found: Node | undefined;
  visit(document, {
    Node(_key, node) {
      if (!test(node)) return undefined;
      found = node;
      return visit.BREAK;
    },
    Pair(_key, pair) {
      if (!test(pair)) return undefined;
      found = pair.key as Node;
      return visit.BREAK;
    },
  });
  return found;
}

// yaml 1.1 gives a merge key's scalar the value '<<' or a symbol described so.
const isMergeKey = (item: unknown) => {
  if (typeof item !== 'object' || item === null || !('key' in item) || !isScalar(item.key)) return false;
  const key = item.key.value;
  return (key === '<<' || (typeof key === 'symbol' && key.description === '<<')) && !isMap((item as { value?: unknown }).value);
};

export async function compileConfig(data: unknown, path: string, options: LoadOptions = {}): Promise<Config> {
  checkGateways(data, path);
  const parsed = configSchema.safeParse(data, { reportInput: true });
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.flatMap((issue) => describeIssue(issue, path)),
      namedLogFile(data, path),
    );
  }
  const file = parsed.data;
  const problems: string[] = [];
  const at = (key: string, message: string) => problems.push(`${path}: ${key}: ${message}`);

  const gateways = Object.entries(file.gateways)
    .map(([name, gateway]) => ({ name, ...gateway }))
    .sort((a, b) => a.priority - b.priority);
  for (let i = 1; i < gateways.length; i++) {
    const [before, gateway] = [gateways[i - 1]!, gateways[i]!];
    // Gateways that share a priority and all have a weight form a balanced tier (./balance.ts).
    if (before.priority === gateway.priority && (before.weight === undefined || gateway.weight === undefined)) {
      at(
        `gateways.${gateway.name}.priority`,
        `priority ${gateway.priority} is also used by gateway "${before.name}"; give every gateway its own priority, or give both a weight to balance connections over them`,
      );
    }
  }
  if (file.mode !== undefined && file.mode !== 'auto' && !Object.hasOwn(file.gateways, file.mode)) {
    at('mode', `expected "auto" or the name of a gateway (${Object.keys(file.gateways).join(', ')}), got ${JSON.stringify(file.mode)}`);
  }
  const table = await resolveRoutingTable(file.check_table, options.rtTablesRoot);
  if (typeof table === 'string') at('check_table', table);
  const firewall = await checkFirewall(file, gateways, typeof table === 'number' ? table : -1, options);
  const probePaths = compileProbePaths(file, typeof table === 'number' ? table : undefined, firewall.tableIds);
  const balance = checkBalance(file, gateways);
  const sites = compileCheckSites(file.check_sites, file.probe);
  for (const [key, message] of [
    ...sites.problems,
    ...firewall.problems,
    ...balance,
    ...probePaths.problems,
    ...checkReports(file),
    ...(await checkPasswordFile(file, file.web_allow_remote && isRemote(file.web_listen))),
    ...checkHealth(file),
    // A site refused above would only add a "no site for this family" line.
    ...(sites.problems.length > 0 ? [] : checkFamilies({ ...file, check_sites: sites.keys, method_sites: sites.methods }, gateways)),
  ])
    at(key, message);
  if (problems.length > 0) throw new ConfigError(problems, namedLogFile(data, path));

  const here = dirname(path);
  const stateDir = resolve(here, file.state_dir);
  const compiled = gateways.map(({ ip, ip6, ...gateway }) => ({
    ...(ip === undefined || ip === 'auto' ? {} : { ip }),
    ...(ip6 === undefined || ip6 === 'auto' ? {} : { ip6 }),
    ...gateway,
    // No `ip` is IPv4 by the kernel's address for `dev` (NetGWM's device gateways), unless the gateway is IPv6 only.
    ...(ip === 'auto' || (ip === undefined && ip6 === undefined) ? { auto: true as const } : {}),
    ...(ip6 === 'auto' && { auto6: true as const }),
    ...(firewall.tableIds.has(gateway.name) && { table_id: firewall.tableIds.get(gateway.name) }),
    probe: probePaths.paths.get(gateway.name)!,
  }));
  const cluster = compileCluster(file.cluster, stateDir, here);
  if (cluster?.peer_config !== undefined && options.checkPeer !== false) {
    const peerOptions = { ...options, checkPeer: false };
    for (const [key, message] of await checkPeer(cluster.peer_config, compiled, (peer) => loadConfig(peer, peerOptions))) at(key, message);
    if (problems.length > 0) throw new ConfigError(problems, namedLogFile(data, path));
  }
  const { cluster: _cluster, ...rest } = file;
  return {
    ...rest,
    check_sites: sites.keys,
    method_sites: sites.methods,
    ...(cluster && { cluster }),
    file: path,
    gateways: compiled,
    families: configFamilies(compiled),
    state_dir: stateDir,
    log_file: resolve(here, file.log_file),
    record: compileRecord(file.record, stateDir, here),
    hooks_dir: resolve(here, file.hooks_dir ?? 'post-replace.d'),
    check_table_id: table as number,
  };
}

/**
 * Checked before the schema: validating a huge mapping would take long for nothing, and zod's
 * record skips a `__proto__` key without a word (YAML makes it an ordinary key).
 */
function checkGateways(data: unknown, path: string): void {
  const gateways = (data as { gateways?: unknown } | null)?.gateways;
  if (typeof gateways !== 'object' || gateways === null) return;
  const count = Object.keys(gateways).length;
  if (count > LIMITS.gateways) throw new ConfigError([`${path}: gateways: expected at most ${LIMITS.gateways} gateways, got ${count}`]);
  if (Object.hasOwn(gateways, '__proto__')) throw new ConfigError([`${path}: gateways.__proto__: ${GATEWAY_NAME_RULE}, got "__proto__"`]);
}

function namedLogFile(data: unknown, path: string): string | undefined {
  const logFile = (data as { log_file?: unknown } | null)?.log_file;
  return typeof logFile === 'string' && logFile !== '' ? resolve(dirname(path), logFile) : undefined;
}

/** Turns one zod issue into `FILE: key.path: expected …, got …` lines. */
function describeIssue(issue: z.core.$ZodIssue, path: string): string[] {
  const key = keyPath(issue.path) || '(top level)';
  // A scalar is worth quoting back; "got a mapping" after a rule about the mapping is noise.
  const scalar =
    'input' in issue &&
    (typeof issue.input !== 'object' || issue.input === null || (Array.isArray(issue.input) && issue.input.length === 0));
  const got = scalar ? `, got ${describeValue(issue.input)}` : '';
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((unknown) => `${path}: ${keyPath([...issue.path, unknown])}: unknown key; check its spelling (see netgwm(8))`);
    case 'invalid_type':
      if (issue.input === undefined) return [`${path}: ${key}: missing; expected ${article(issue.expected)}`];
      return [`${path}: ${key}: expected ${article(issue.expected)}${got}`];
    case 'invalid_value':
      return [`${path}: ${key}: expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}${got}`];
    case 'invalid_key': {
      const name = issue.path.at(-1);
      return [`${path}: ${key}: ${issue.issues[0]?.message ?? issue.message}, got ${JSON.stringify(String(name))}`];
    }
    case 'too_big':
      return [
        `${path}: ${key}: ${issue.message.replace(/^Too big: /, '')}${Array.isArray(issue.input) ? `, got ${issue.input.length}` : got}`,
      ];
    case 'invalid_union':
      return [`${path}: ${key}: ${issue.message}${got}`];
    default:
      return [`${path}: ${key}: ${issue.message.replace(/^Too (small|big): /, '')}${got}`];
  }
}

/** `gateways.isp1.ip`; a key that is not a plain word is quoted, so no key can break the line. */
function keyPath(path: PropertyKey[]): string {
  return path
    .map((part) => (typeof part === 'number' || /^[\w.-]+$/.test(String(part)) ? String(part) : JSON.stringify(String(part))))
    .join('.');
}

function article(type: string): string {
  const names: Record<string, string> = {
    number: 'a number',
    string: 'a text',
    boolean: 'true or false',
    object: 'a mapping (key: value)',
    array: 'a list',
    record: 'a mapping (key: value)',
  };
  return names[type] ?? type;
}

function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (Array.isArray(value)) return value.length === 0 ? 'an empty list' : 'a list';
  if (typeof value === 'object') return 'a mapping';
  return JSON.stringify(value);
}
