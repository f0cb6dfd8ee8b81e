// `netgwm history`: switches and all-down outages from the log (text or JSON lines, rotated parts
// included) and the state, with how long traffic stayed on each uplink.
import { basename } from 'node:path';
import type { Config } from '../config/load.js';
import { familyView } from '../config/families.js';
import type { Gateway, State } from '../core/types.js';
import { loadState } from '../state/store.js';
import { parseLocalTime } from '../log/time.js';
import { logParts, readLines } from './log-files.js';
import { iso, seconds } from './json-units.js';

export const HISTORY_SCHEMA_VERSION = 1;
/** At most this many events are kept while reading, newest win (a month of flapping fits). */
const MAX_EVENTS = 50_000;
/** A switch in the state is the same as one in the log when they agree and are this close. */
const SAME_SWITCH_MS = 10 * 60_000;

export interface SwitchEntry {
  kind: 'switch';
  /** Set for the IPv6 decision's switches (absent: IPv4). */
  family?: 6;
  at: number;
  from?: string;
  to: string;
  reason: string;
  /** Where it was read: a log part's file name, or `state`. */
  source: string;
}

export interface OutageEntry {
  kind: 'outage';
  family?: 6;
  at: number;
  /** When a gateway answered again; absent while it lasts. */
  until?: number;
  /** The gateway whose route was kept. */
  current?: string;
  source: string;
}

export type HistoryEntry = SwitchEntry | OutageEntry;

/** What history needs of a configured gateway: NetGWM's log lines name routes, not gateways. */
type RouteOwner = Pick<Gateway, 'name' | 'ip' | 'dev'>;

/** Everything the log parts and the state tell, oldest first; with `ipv6`, the IPv6 decision's state too. */
export async function readHistory(logFile: string, state: State, gateways: RouteOwner[] = [], ipv6?: State): Promise<HistoryEntry[]> {
  const entries: HistoryEntry[] = [];
  for (const part of await logParts(logFile)) {
    const source = basename(part);
    await readLines(part, (line) => {
      const entry = parseLine(line, source, gateways);
      if (!entry) return;
      if (entry.kind === 'recovered') closeOutage(entries, entry, source);
      else entries.push(entry);
      if (entries.length > MAX_EVENTS) entries.shift();
    });
  }
  if (ipv6) mergeState(entries, ipv6, 6);
  return mergeState(entries, state);
}

// Matched at the start of the message only: the same words inside another line (a hook's output
// or name) are not an event.
const SWITCH = /^route replaced to: (.*?)(?: \(([\w.-]+), was ([\w.-]+): (.*)\))?$/;
const ALL_DOWN = /^all gateways down; keeping the current route(?: \(([\w.-]+)\))?$/;
const RECOVERED = /^a gateway answers again after (\d+) s with all gateways down$/;
/** What comes before the message: the time, then netgwm's level (NetGWM wrote none). */
const LINE_PREFIX = /^\S+ \S+ (?:(?:DEBUG|INFO|WARN|ERROR|FATAL) )?/;

/** A recovery ends the outage before it. */
type LineEntry = HistoryEntry | Recovery;
interface Recovery {
  kind: 'recovered';
  family?: 6;
  at: number;
  downForMs: number;
}

/**
 * One log line as an entry; lines of NetGWM's own log (`route replaced to: via IP [dev DEV]`)
 * count too, the gateway named from the config.
 */
export function parseLine(line: string, source: string, gateways: RouteOwner[] = []): LineEntry | undefined {
  if (line.startsWith('{')) return parseJsonLine(line, source);
  const at = parseLocalTime(line);
  if (at === undefined) return undefined;
  const prefixed = line.replace(LINE_PREFIX, '');
  // The IPv6 decision's lines start with `IPv6: ` (src/log/logger.ts).
  const family = prefixed.startsWith(IPV6_PREFIX) ? ({ family: 6 } as const) : {};
  const message = prefixed.slice(family.family ? IPV6_PREFIX.length : 0);
  let match = SWITCH.exec(message);
  if (match)
    return {
      kind: 'switch',
      ...family,
      at,
      to: match[2] ?? gatewayOfRoute(match[1]!, gateways),
      ...(match[3] && match[3] !== 'none' ? { from: match[3] } : {}),
      reason: match[4] ?? '',
      source,
    };
  match = ALL_DOWN.exec(message);
  if (match) return { kind: 'outage', ...family, at, ...(match[1] ? { current: match[1] } : {}), source };
  match = RECOVERED.exec(message);
  if (match) return { kind: 'recovered', ...family, at, downForMs: Number(match[1]) * 1000 };
  return undefined;
}

const IPV6_PREFIX = 'IPv6: ';

/**
 * The configured gateway a route such as `via 192.0.2.1 dev eth1` leads to: by its ip (and dev,
 * when both sides name one), else by dev alone; the route text itself when none matches (the
 * config changed since). NetGWM wrote `NaN` for a value it did not have.
 */
function gatewayOfRoute(route: string, gateways: RouteOwner[]): string {
  const field = (name: string) => new RegExp(`(?:^| )${name} (\\S+)`).exec(route)?.[1]?.replace(/^NaN$/, '') || undefined;
  const [via, dev] = [field('via'), field('dev')];
  const owner = via
    ? gateways.find((gateway) => gateway.ip === via && (dev === undefined || gateway.dev === undefined || gateway.dev === dev))
    : gateways.find((gateway) => dev !== undefined && gateway.dev === dev);
  return owner?.name ?? route;
}

interface JsonLine {
  time?: number;
  family?: number;
  event?: string;
  to?: { name?: string };
  from?: { name?: string };
  reason?: string;
  current?: string;
  downForMs?: number;
}

function parseJsonLine(line: string, source: string): LineEntry | undefined {
  let record: JsonLine;
  try {
    record = JSON.parse(line) as JsonLine;
  } catch {
    return undefined; // a line cut short by a crash or a full disk
  }
  const at = record.time;
  if (typeof at !== 'number') return undefined;
  const family = record.family === 6 ? ({ family: 6 } as const) : {};
  if (record.event === 'switched' && record.to?.name)
    return {
      kind: 'switch',
      ...family,
      at,
      to: record.to.name,
      ...(record.from?.name ? { from: record.from.name } : {}),
      reason: record.reason ?? '',
      source,
    };
  if (record.event === 'all-down') return { kind: 'outage', ...family, at, ...(record.current ? { current: record.current } : {}), source };
  if (record.event === 'recovered') return { kind: 'recovered', ...family, at, downForMs: record.downForMs ?? 0 };
  return undefined;
}

function closeOutage(entries: HistoryEntry[], recovery: Recovery, source: string): void {
  const open = openOutage(entries, recovery.family);
  if (open) open.until = recovery.at;
  // Its start was rotated away; the recovery line says how long it lasted.
  else
    entries.push({
      kind: 'outage',
      ...(recovery.family && { family: recovery.family }),
      at: recovery.at - recovery.downForMs,
      until: recovery.at,
      source,
    });
}

/** The last outage of a family's decision, while it lasts. */
function openOutage(entries: HistoryEntry[], family: 6 | undefined): OutageEntry | undefined {
  for (let i = entries.length - 1; i >= 0; i--) {
    const entry = entries[i]!;
    if (entry.kind === 'outage' && entry.family === family) return entry.until === undefined ? entry : undefined;
  }
  return undefined;
}

/** The state (of a family's decision) knows the last switch and an ongoing outage even when the log lost them. */
function mergeState(entries: HistoryEntry[], state: State, family?: 6): HistoryEntry[] {
  const last = state.lastSwitch;
  const of = family ? { family } : {};
  if (last) {
    const logged = entries.some(
      (entry) =>
        entry.kind === 'switch' &&
        entry.family === family &&
        entry.to === last.to &&
        entry.from === last.from &&
        entry.reason === last.reason &&
        Math.abs(entry.at - last.at) <= SAME_SWITCH_MS,
    );
    if (!logged)
      entries.push({
        kind: 'switch',
        ...of,
        at: last.at,
        to: last.to,
        ...(last.from ? { from: last.from } : {}),
        reason: last.reason,
        source: 'state',
      });
  }
  if (state.allDownSince !== undefined && !openOutage(entries, family)) {
    entries.push({ kind: 'outage', ...of, at: state.allDownSince, ...(state.active ? { current: state.active } : {}), source: 'state' });
  }
  return entries.sort((a, b) => a.at - b.at);
}

/** The JSON of `history --json`: the last `count` entries with their durations. */
export function historyDocument(entries: HistoryEntry[], count: number, now: number) {
  const switches = entries.filter((entry): entry is SwitchEntry => entry.kind === 'switch');
  const shown = entries.slice(-count).map((entry) => {
    if (entry.kind === 'outage') {
      const end = entry.until ?? now;
      return {
        kind: entry.kind,
        family: entry.family ?? 4,
        at: iso(entry.at),
        until: entry.until === undefined ? null : iso(entry.until),
        duration_s: seconds(end - entry.at),
        ongoing: entry.until === undefined,
        current: entry.current ?? null,
        source: entry.source,
      };
    }
    // Traffic of this family stayed on `to` until the family's next switch.
    const next = switches.slice(switches.indexOf(entry) + 1).find((later) => later.family === entry.family);
    return {
      kind: entry.kind,
      family: entry.family ?? 4,
      at: iso(entry.at),
      from: entry.from ?? null,
      to: entry.to,
      reason: entry.reason,
      on_to_s: seconds((next?.at ?? now) - entry.at),
      ongoing: next === undefined,
      source: entry.source,
    };
  });
  return { schema_version: HISTORY_SCHEMA_VERSION, generated_at: iso(now), entries: shown };
}

export type HistoryDocument = ReturnType<typeof historyDocument>;

/** The last `count` entries as `netgwm history --json` and /api/history show them. */
export async function readHistoryDocument(config: Config, count: number, now: number): Promise<HistoryDocument> {
  const [{ state }, ipv6] = await Promise.all([
    loadState(config.state_dir),
    config.families.includes(6) ? loadState(config.state_dir, 6) : undefined,
  ]);
  return historyDocument(await readHistory(config.log_file, state, familyView(config, 4).gateways, ipv6?.state), count, now);
}
