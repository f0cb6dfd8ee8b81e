// Reads a scenario file (YAML, see examples/scenarios/ and README "Replay") into a Scenario
// (src/core/scenario.ts). Every problem is reported as `FILE: line N: what is wrong`.
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Node, type Pair, type YAMLMap } from 'yaml';
import { parseYaml } from '../config/load.js';
import type { Behaviour, Phase, Scenario } from '../core/scenario.js';
import { DEFAULT_GATEWAY } from '../core/scenario.js';
import { ConfigError } from '../errors.js';

/** Bounds that keep a replay within memory and time. */
export const SCENARIO_LIMITS = { durationMs: 2 * 86_400_000, phases: 10_000, bytes: 256 << 10 } as const;

/** What the scenario may name: the config's gateways and check sites. */
export interface ScenarioNames {
  gateways: string[];
  sites: string[];
}

const TOP_KEYS = ['name', 'description', 'duration', 'seed', 'start', 'gateways', 'sites'];
const PHASE_KEYS = ['for', 'state', 'loss', 'rtt'];
const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function parseScenario(text: string, path: string, names: ScenarioNames): Scenario {
  if (text.length > SCENARIO_LIMITS.bytes)
    throw new ConfigError([`${path}: expected at most ${SCENARIO_LIMITS.bytes >> 10} KiB, got ${text.length} bytes`]);
  parseYaml(text, path); // YAML syntax and alias errors, with their line, as for the config
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { version: '1.1', lineCounter, logLevel: 'error' });
  const problems: string[] = [];
  const fail = (node: Node | Pair | null | undefined, message: string): undefined => {
    const at = isPair(node) ? (node.key as Node | null) : node;
    const offset = at?.range?.[0] ?? 0;
    problems.push(`${path}: line ${lineCounter.linePos(offset).line}: ${message}`);
    return undefined;
  };
  const root = document.contents;
  if (!isMap(root)) {
    fail(root, 'expected a mapping with at least `duration` and `gateways` (see examples/scenarios/)');
    throw new ConfigError(problems);
  }
  for (const pair of root.items) {
    const key = keyOf(pair);
    if (!TOP_KEYS.includes(key)) fail(pair, `unknown key ${JSON.stringify(key)}; expected one of ${TOP_KEYS.join(', ')}`);
  }
  const durationNode = root.get('duration', true) as Node | undefined;
  const durationMs = durationNode ? duration(durationNode, fail, 'duration') : fail(root, 'missing `duration` (e.g. `duration: 2h`)');
  if (durationMs !== undefined && (durationMs <= 0 || durationMs > SCENARIO_LIMITS.durationMs))
    fail(durationNode, `duration: expected more than 0 and at most 2d, got ${scalarText(durationNode)}`);
  const total = durationMs ?? 0;

  const seedNode = root.get('seed', true) as Node | undefined;
  let seed = 1;
  if (seedNode) {
    const value = isScalar(seedNode) ? seedNode.value : undefined;
    if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) seed = value;
    else fail(seedNode, `seed: expected a whole number of 0 or more, got ${scalarText(seedNode)}`);
  }
  const nameNode = root.get('name', true) as Node | undefined;
  const name = nameNode && isScalar(nameNode) ? String(nameNode.value) : path.replace(/^.*\//, '').replace(/\.ya?ml$/, '');

  let phaseCount = 0;
  const timelines = (key: 'gateways' | 'sites', known: string[], what: string): Record<string, Phase[]> => {
    const node = root.get(key, true) as Node | undefined;
    const result: Record<string, Phase[]> = {};
    if (node === undefined || (isScalar(node) && node.value === null)) return result;
    if (!isMap(node)) return fail(node, `${key}: expected a mapping of ${what} names to phases`) ?? result;
    for (const pair of node.items) {
      const entry = keyOf(pair);
      if (!known.includes(entry)) {
        fail(pair, `${key}: ${JSON.stringify(entry)} is not a ${what} of the config; expected one of ${known.join(', ')}`);
        continue;
      }
      const phases: Phase[] = [];
      const end = readPhases(pair.value as Node, 0, phases, `${key}.${entry}`, key === 'sites');
      phaseCount += phases.length;
      if (end !== undefined && Number.isFinite(end) && end > total && durationMs !== undefined)
        fail(pair, `${key}.${entry}: the phases last ${formatMs(end)}, longer than the duration (${formatMs(total)})`);
      result[entry] = phases.filter((phase) => phase.fromMs < total).map((phase) => ({ ...phase, toMs: Math.min(phase.toMs, total) }));
    }
    return result;
  };

  /** Appends the phases of `node` from `fromMs`; returns where they end (undefined after an error). */
  const readPhases = (node: Node | null, fromMs: number, into: Phase[], where: string, site: boolean): number | undefined => {
    if (isMap(node)) return readPhase(node, fromMs, into, where, site, true);
    if (!isSeq(node) || node.items.length === 0)
      return fail(node, `${where}: expected a list of phases such as [{for: 10m, state: down}, {loss: 30}], or one phase`);
    let at = fromMs;
    for (const [index, item] of node.items.entries()) {
      const last = index === node.items.length - 1;
      if (isMap(item) && item.has('repeat')) {
        const repeatNode = item.get('repeat', true) as Node;
        const times = isScalar(repeatNode) ? repeatNode.value : undefined;
        for (const pair of item.items)
          if (!['repeat', 'phases'].includes(keyOf(pair)))
            fail(pair, `${where}: a repeat has only \`repeat\` and \`phases\`, got ${JSON.stringify(keyOf(pair))}`);
        if (typeof times !== 'number' || !Number.isInteger(times) || times < 1)
          return fail(repeatNode, `${where}: repeat: expected a whole number of 1 or more, got ${scalarText(repeatNode)}`);
        const body = item.get('phases', true) as Node | undefined;
        if (!body) return fail(item, `${where}: a repeat needs \`phases\`, the list it repeats`);
        for (let time = 0; time < times; time++) {
          const before = into.length;
          const end = readPhases(body, at, into, where, site);
          if (end === undefined) return undefined;
          if (into.slice(before).some((phase) => !Number.isFinite(phase.toMs)))
            return fail(body, `${where}: every phase of a repeat needs \`for\``);
          at = end;
          if (into.length > SCENARIO_LIMITS.phases || at >= SCENARIO_LIMITS.durationMs) break;
        }
        if (into.length > SCENARIO_LIMITS.phases)
          return fail(repeatNode, `${where}: expected at most ${SCENARIO_LIMITS.phases} phases in all`);
        continue;
      }
      if (!isMap(item))
        return fail(item as Node, `${where}: expected a phase such as {for: 10m, state: down}, got ${scalarText(item as Node)}`);
      const end = readPhase(item, at, into, where, site, last);
      if (end === undefined) return undefined;
      at = end;
    }
    return at;
  };

  const readPhase = (node: YAMLMap, fromMs: number, into: Phase[], where: string, site: boolean, last: boolean): number | undefined => {
    let ok = true;
    for (const pair of node.items) {
      const key = keyOf(pair);
      if (!PHASE_KEYS.includes(key)) {
        fail(
          pair,
          `${where}: unknown phase key ${JSON.stringify(key)}; expected ${PHASE_KEYS.join(', ')}${key === 'repeat' ? ' (a repeat is an item of a list of phases)' : ''}`,
        );
        ok = false;
      }
    }
    const behaviour: Behaviour = site ? { state: 'up', lossPct: 0, rttMs: [0, 0] } : { ...DEFAULT_GATEWAY };
    const stateNode = node.get('state', true) as Node | undefined;
    if (stateNode) {
      const states = site ? ['up', 'down'] : ['up', 'down', 'link-down'];
      const value = isScalar(stateNode) ? stateNode.value : undefined;
      if (typeof value === 'string' && states.includes(value)) behaviour.state = value as Behaviour['state'];
      else ok = !!fail(stateNode, `${where}: state: expected one of ${states.join(', ')}, got ${scalarText(stateNode)}`);
    }
    const lossNode = node.get('loss', true) as Node | undefined;
    if (lossNode) {
      const value = isScalar(lossNode) ? lossNode.value : undefined;
      if (typeof value === 'number' && value >= 0 && value <= 100) behaviour.lossPct = value;
      else ok = !!fail(lossNode, `${where}: loss: expected a percentage from 0 to 100, got ${scalarText(lossNode)}`);
    }
    const rttNode = node.get('rtt', true) as Node | undefined;
    if (rttNode) {
      const range = rttRange(rttNode);
      if (range) behaviour.rttMs = range;
      else
        ok = !!fail(
          rttNode,
          `${where}: rtt: expected milliseconds (e.g. 20) or a range [min, max] (e.g. [20, 80]), got ${scalarText(rttNode)}`,
        );
    }
    const forNode = node.get('for', true) as Node | undefined;
    let length = Number.POSITIVE_INFINITY;
    if (forNode) {
      const value = duration(forNode, fail, `${where}: for`);
      if (value === undefined) return undefined;
      if (value <= 0) return fail(forNode, `${where}: for: expected a duration above 0, got ${scalarText(forNode)}`);
      length = value;
    } else if (!last) return fail(node, `${where}: missing \`for\` (only the last phase may last until the end)`);
    if (!ok) return undefined;
    into.push({ fromMs, toMs: fromMs + length, behaviour });
    return fromMs + length;
  };

  const gateways = timelines('gateways', names.gateways, 'gateway');
  const sites = timelines('sites', names.sites, 'check site');
  if (phaseCount > SCENARIO_LIMITS.phases) fail(root, `expected at most ${SCENARIO_LIMITS.phases} phases in all, got ${phaseCount}`);
  const startNode = root.get('start', true) as Node | undefined;
  let start: string | undefined;
  if (startNode) {
    const value = isScalar(startNode) ? String(startNode.value) : '';
    if (names.gateways.includes(value)) start = value;
    else
      fail(startNode, `start: expected the gateway the route starts on, one of ${names.gateways.join(', ')}, got ${scalarText(startNode)}`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const scenario: Scenario = { name, durationMs: total, seed, gateways, sites };
  if (start) scenario.start = start;
  return scenario;
}

/** A duration: seconds as a number, or text such as `90s`, `1h30m`, `500ms`, `2d`. */
function duration(node: Node, fail: (node: Node, message: string) => undefined, where: string): number | undefined {
  const value = isScalar(node) ? node.value : undefined;
  if (typeof value === 'number' && Number.isFinite(value)) return value * 1000;
  if (typeof value === 'string' && /^(\d+(\.\d+)?(ms|s|m|h|d))+$/.test(value)) {
    let total = 0;
    for (const [, amount, unit] of value.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) total += Number(amount) * UNITS[unit!]!;
    return total;
  }
  return fail(node, `${where}: expected a duration such as 90 (seconds), 90s, 10m, 1h30m or 500ms, got ${scalarText(node)}`);
}

function rttRange(node: Node): [number, number] | undefined {
  const ok = (value: unknown): value is number => typeof value === 'number' && value >= 0 && value <= 60_000;
  if (isScalar(node)) return ok(node.value) ? [node.value, node.value] : undefined;
  if (!isSeq(node) || node.items.length !== 2) return undefined;
  const [min, max] = node.items.map((item) => (isScalar(item) ? item.value : undefined));
  return ok(min) && ok(max) && min <= max ? [min, max] : undefined;
}

function keyOf(pair: Pair): string {
  return isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
}

function scalarText(node: Node | null | undefined): string {
  if (isScalar(node)) return JSON.stringify(node.value);
  if (isSeq(node)) return 'a list';
  if (isMap(node)) return 'a mapping';
  return 'nothing';
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
