// A simulated kernel for the `ip` commands netgwm runs: policy rules and IPv4 routing tables,
// answered as iproute2 answers (`-j` listings, RTNETLINK refusals, `-batch` stopping at the first
// failed line unless `-force`). Plug `answer` into fakeExec; tests read and change the tables.
import type { Answer } from './fake-exec.js';

/** A rule as `ip -N -j -4 rule list` prints it. */
export interface KernelRule {
  priority: number;
  src: string;
  table: string;
  fwmark?: string;
  fwmask?: string;
  suppress_prefixlen?: number;
  iif?: string;
  sport_start?: number;
  sport_end?: number;
}

/** A route as `ip -N -j -4 route show` prints it (default routes, and the link routes of uplink tables). */
export interface KernelRoute {
  /** Absent for unicast, as ip prints it; `blackhole` and the like have no dev. */
  type?: string;
  dst: string;
  gateway?: string;
  dev?: string;
  metric?: number;
  /** Absent for `boot` (what `ip route add` gives), as ip prints it; a number with -N. */
  protocol?: string;
  scope?: string;
  prefsrc?: string;
}

const ROUTE_TYPES = new Set(['blackhole', 'unreachable', 'prohibit', 'throw']);

export const MAIN_TABLE = 254;

/** The rules of a freshly booted kernel: local, main, default. */
export const BOOT_RULES: readonly KernelRule[] = [
  { priority: 0, src: 'all', table: '255' },
  { priority: 32766, src: 'all', table: '254' },
  { priority: 32767, src: 'all', table: '253' },
];

export interface KernelOptions {
  rules?: readonly KernelRule[];
  /** Neighbours: gateway address → the device it is reached on, for a `via` without `dev`. */
  links?: Record<string, string>;
}

const TABLE_NAMES: Record<string, string> = { main: '254', local: '255', default: '253' };
const hex = (value: string) => `0x${(Number(value) >>> 0).toString(16)}`;

class RefusedError extends Error {}

export function fakeKernel(options: KernelOptions = {}) {
  const kernel = {
    rules: options.rules ? options.rules.map((rule) => ({ ...rule })) : ([] as KernelRule[]),
    tables: new Map<number, KernelRoute[]>([[MAIN_TABLE, []]]),
    /** When set, every change to the main table fails with this message. */
    mainRefuses: undefined as string | undefined,
    /** The main table takes a change, then its owner (another daemon) puts the old routes back at once. */
    mainReverts: false,
    /** Devices whose link is down: the kernel refuses routes through them. */
    downLinks: new Set<string>(),

    /** A link goes down (its routes go, in every table, as the kernel does) or up again. */
    setLink(dev: string, up: boolean): void {
      if (up) {
        kernel.downLinks.delete(dev);
        return;
      }
      kernel.downLinks.add(dev);
      for (const [id, routes] of kernel.tables) {
        const left = routes.filter((route) => route.dev !== dev);
        if (left.length > 0 || id === MAIN_TABLE) kernel.tables.set(id, left);
        else kernel.tables.delete(id);
      }
    },

    /** The default route of `table` (main unless given) the kernel uses: lowest metric first. */
    defaultRoute(table = MAIN_TABLE): KernelRoute | undefined {
      return [...(kernel.tables.get(table) ?? [])]
        .filter((route) => route.dst === 'default')
        .sort((a, b) => (a.metric ?? 0) - (b.metric ?? 0))[0];
    },

    /** The default route a packet carrying `mark` (from local port `sport`) takes, after the policy rules. */
    routeFor(mark = 0, sport?: number): KernelRoute | undefined {
      for (const rule of [...kernel.rules].sort((a, b) => a.priority - b.priority)) {
        const mask = Number(rule.fwmask ?? 0xffffffff);
        if (rule.fwmark !== undefined && (mark & mask) >>> 0 !== Number(rule.fwmark)) continue;
        if (rule.sport_start !== undefined && (sport === undefined || sport < rule.sport_start || sport > rule.sport_end!)) continue;
        const route = kernel.defaultRoute(Number(rule.table));
        // An unreachable route ends the lookup: the packet goes nowhere.
        if (route?.type === 'unreachable') return undefined;
        if (route && rule.suppress_prefixlen !== 0) return route;
      }
      return undefined;
    },

    answer(argv: string[], input?: string): Answer {
      if (argv[0] !== 'ip') throw new Error(`unexpected command ${argv.join(' ')}`);
      const words = argv.slice(1);
      const flags = new Set<string>();
      while (words[0]?.startsWith('-') && words[0] !== '-') flags.add(words.shift()!);
      if (!flags.has('-batch')) return run(words, flags);
      let failed = '';
      let stdout = '';
      const lines = (input ?? '').split('\n');
      for (const [index, line] of lines.entries()) {
        if (line.trim() === '') continue;
        const result = run(line.trim().split(/\s+/), flags);
        // Each listing prints its own JSON line.
        if (result?.stdout) stdout += `${result.stdout}\n`;
        if (!result?.exitCode) continue;
        failed += `${result.stderr}Command failed -:${index + 1}\n`;
        if (!flags.has('-force')) break;
      }
      return failed ? { exitCode: 1, stderr: failed, stdout } : { stdout };
    },
  };

  function run(words: string[], flags: Set<string>): Answer {
    const [object, verb = 'list', ...rest] = words;
    try {
      if (object === 'rule') return rule(verb, rest, flags);
      if (object === 'route') return route(verb, rest, flags);
    } catch (error) {
      if (error instanceof RefusedError) return { exitCode: 2, stderr: `${error.message}\n` };
      throw error;
    }
    throw new Error(`unexpected command ip ${words.join(' ')}`);
  }

  function rule(verb: string, words: string[], flags: Set<string>): Answer {
    if (verb === 'list' || verb === 'show') return listing(kernel.rules, flags);
    const wanted = parseRule(words);
    if (verb === 'add') {
      if (wanted.priority === undefined || wanted.table === undefined)
        throw new Error(`the simulated kernel needs pref and lookup: ip rule add ${words.join(' ')}`);
      // Listed by preference; a new rule goes after those with the same one.
      const after = kernel.rules.findIndex((existing) => existing.priority > wanted.priority!);
      kernel.rules.splice(after < 0 ? kernel.rules.length : after, 0, { src: 'all', ...wanted } as KernelRule);
      return undefined;
    }
    if (verb === 'del') {
      const index = kernel.rules.findIndex((existing) =>
        Object.entries(wanted).every(([key, value]) => existing[key as keyof KernelRule] === value),
      );
      if (index < 0) throw new RefusedError('RTNETLINK answers: No such file or directory');
      kernel.rules.splice(index, 1);
      return undefined;
    }
    throw new Error(`unexpected command ip rule ${verb}`);
  }

  function route(verb: string, words: string[], flags: Set<string>): Answer {
    if ((verb === 'show' || verb === 'list') && words.join(' ') === 'table all') {
      const all = [...kernel.tables].flatMap(([id, routes]) =>
        routes.map((entry) => (id === MAIN_TABLE ? entry : { ...entry, table: String(id) })),
      );
      return listing(all, flags);
    }
    const wanted = parseRoute(words);
    const id = wanted.table ?? MAIN_TABLE;
    const routes = kernel.tables.get(id) ?? [];
    if (verb === 'show' || verb === 'list') {
      // An empty table does not exist for the kernel.
      if (!kernel.tables.has(id)) return { exitCode: 2, stderr: 'Error: ipv4: FIB table does not exist.\nDump terminated\n' };
      return listing(
        routes.filter((entry) => !wanted.dst || entry.dst === wanted.dst),
        flags,
      );
    }
    if (verb === 'flush') {
      if (id !== MAIN_TABLE) kernel.tables.delete(id);
      return undefined;
    }
    if (id === MAIN_TABLE && kernel.mainRefuses) throw new RefusedError(kernel.mainRefuses);
    const changed = changeRoutes(verb, routes, wanted);
    if (id === MAIN_TABLE && kernel.mainReverts) return undefined;
    if (changed.length > 0 || id === MAIN_TABLE) kernel.tables.set(id, changed);
    else kernel.tables.delete(id);
    return undefined;
  }

  function changeRoutes(verb: string, routes: KernelRoute[], wanted: ReturnType<typeof parseRoute>): KernelRoute[] {
    const sameSlot = (entry: KernelRoute) => entry.dst === wanted.dst && (entry.metric ?? 0) === (wanted.metric ?? 0);
    if (verb === 'del') {
      const index = routes.findIndex(
        (entry) =>
          entry.dst === wanted.dst &&
          entry.type === wanted.type &&
          (wanted.metric === undefined || (entry.metric ?? 0) === wanted.metric) &&
          (!wanted.gateway || entry.gateway === wanted.gateway) &&
          (!wanted.dev || entry.dev === wanted.dev) &&
          (!wanted.protocol || entry.protocol === wanted.protocol),
      );
      if (index < 0) throw new RefusedError('RTNETLINK answers: No such process');
      return routes.filter((_, at) => at !== index);
    }
    if (verb !== 'add' && verb !== 'replace') throw new Error(`unexpected command ip route ${verb}`);
    if (verb === 'add' && routes.some(sameSlot)) throw new RefusedError('RTNETLINK answers: File exists');
    if (wanted.type)
      return [
        ...routes.filter((existing) => !sameSlot(existing)),
        { type: wanted.type, dst: wanted.dst!, ...(wanted.metric ? { metric: wanted.metric } : {}) },
      ];
    const dev = wanted.dev ?? (wanted.gateway === undefined ? undefined : options.links?.[wanted.gateway]);
    if (dev === undefined) throw new RefusedError('Error: Nexthop has invalid gateway.');
    if (kernel.downLinks.has(dev)) throw new RefusedError('Error: Nexthop device is not up.');
    const entry: KernelRoute = {
      dst: wanted.dst!,
      ...(wanted.gateway && { gateway: wanted.gateway }),
      dev,
      ...(wanted.metric ? { metric: wanted.metric } : {}),
      ...(wanted.protocol && { protocol: wanted.protocol }),
      ...(wanted.scope && { scope: wanted.scope }),
      ...(wanted.prefsrc && { prefsrc: wanted.prefsrc }),
    };
    return [...routes.filter((existing) => !sameSlot(existing)), entry];
  }

  return kernel;
}

export type FakeKernel = ReturnType<typeof fakeKernel>;

function listing(entries: unknown[], flags: Set<string>): Answer {
  if (!flags.has('-j')) throw new Error('the simulated kernel answers listings only as JSON (ip -j)');
  return { stdout: JSON.stringify(entries) };
}

/** `pref 1101 fwmark 0x1/0xff lookup 101`, in any order, as the fields `ip -N -j` shows. */
function parseRule(words: string[]): Partial<KernelRule> {
  const rule: Partial<KernelRule> = {};
  for (let at = 0; at < words.length; at += 2) {
    const [key, value] = [words[at], words[at + 1]!];
    if (key === 'pref' || key === 'priority') rule.priority = Number(value);
    else if (key === 'lookup' || key === 'table') rule.table = TABLE_NAMES[value] ?? value;
    else if (key === 'suppress_prefixlength') rule.suppress_prefixlen = Number(value);
    else if (key === 'iif') rule.iif = value;
    else if (key === 'sport') {
      const [from, to = from] = value.split('-').map(Number) as [number, number?];
      [rule.sport_start, rule.sport_end] = [from, to];
    } else if (key === 'fwmark') {
      const [mark, mask] = value.split('/') as [string, string | undefined];
      rule.fwmark = hex(mark);
      // ip shows no mask when it is all ones.
      if (mask !== undefined && Number(mask) >>> 0 !== 0xffffffff) rule.fwmask = hex(mask);
    } else throw new Error(`the simulated kernel does not know the rule selector ${key}`);
  }
  return rule;
}

const SCOPES: Record<string, string> = { link: '253', host: '254', global: '0' };

/**
 * `[blackhole] default via 192.0.2.1 dev wan1 table 194 metric 5`, `192.0.2.0/30 dev wan1 proto
 * 194 scope link src 192.0.2.2 table 101`; `default` may come anywhere in a listing.
 */
function parseRoute(words: string[]): Omit<KernelRoute, 'dst'> & { dst?: string; table?: number } {
  const parsed: ReturnType<typeof parseRoute> = {};
  const rest = [...words];
  while (rest.length > 0) {
    const key = rest.shift()!;
    if (ROUTE_TYPES.has(key)) {
      parsed.type = key;
      continue;
    }
    if (key === 'default' || /^\d+\.\d+\.\d+\.\d+(\/\d+)?$/.test(key)) {
      parsed.dst = key;
      continue;
    }
    const value = rest.shift()!;
    if (key === 'via') parsed.gateway = value;
    else if (key === 'dev') parsed.dev = value;
    else if (key === 'table') parsed.table = Number(TABLE_NAMES[value] ?? value);
    else if (key === 'metric') parsed.metric = Number(value);
    else if (key === 'proto') parsed.protocol = value;
    else if (key === 'scope') parsed.scope = SCOPES[value] ?? value;
    else if (key === 'src') parsed.prefsrc = value;
    else throw new Error(`the simulated kernel does not know the route keyword ${key}`);
  }
  return parsed;
}
