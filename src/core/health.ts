// The health of one gateway, judged from its probe rounds and its link: up, degraded or down,
// with hysteresis. Pure: the daemon feeds rounds as they settle and link events as they come;
// a replay feeds the same on a virtual clock. Times are the caller's clock in ms (monotonic in
// the daemon).
import type { GatewayObservation, SiteObservation } from './types.js';

export interface HealthSettings {
  /** A round (one echo to each site) starts every intervalMs; an echo not answered within timeoutMs is lost. */
  intervalMs: number;
  timeoutMs: number;
  /** Consecutive bad rounds that make a gateway down, good ones that bring it back. */
  down: number;
  up: number;
  /** A round is good when at least this many sites answered (fewer when fewer were probed). */
  minSites: number;
  /** Loss and mean RTT are judged over this much of the latest rounds. */
  windowMs: number;
  /** Percent of echoes lost over the window: ≥ lossDownPct is down, ≤ lossUpPct is good enough to come (back) up. */
  lossDownPct: number;
  lossUpPct: number;
  /** Mean RTT over the window, the same way; absent: latency is not judged. */
  latencyDownMs?: number;
  latencyUpMs?: number;
  /** How long a method site's latest result counts in later rounds (see Echo.carried); absent: until its next one. */
  carryMs?: number;
  /** The longest timeout of the method sites: their first result may take that long (monitoringGraceMs). */
  methodTimeoutMs?: number;
}

export interface Echo {
  site: string;
  answered: boolean;
  rttMs?: number;
  /**
   * A method site's latest result, repeated in a round after the one it came in (its site is
   * probed at its own, slower interval): it counts for the round's min_sites, not for loss or RTT.
   */
  carried?: true;
}

/** One round: one echo to each of the gateway's sites, sent at `at` (ms, caller's clock). */
export interface Round {
  at: number;
  echoes: Echo[];
}

export type HealthStatus = 'unknown' | 'up' | 'degraded' | 'down';

/** What the window and the runs keep of one round. */
export interface RoundSummary {
  at: number;
  probed: number;
  answered: number;
  /** At least min_sites (or every probed site, if fewer) answered. */
  good: boolean;
  /** Consecutive good (> 0) or bad (< 0) rounds up to this one in the runs (`recent`): set when it joins them. */
  run: number;
  /**
   * Running totals of the window's log up to this round, this one included (see RoundWindow):
   * the RTTs reported (sum at 0, count at 1), then per site (index i in the window's `sites`) the
   * echoes sent (at 2 + 2i) and answered (at 3 + 2i). Empty until the round enters a window.
   */
  totals: readonly number[];
}

export interface GatewayHealth {
  status: HealthStatus;
  /** When the status last changed. */
  since: number;
  /** Why it has this status, e.g. `down: loss 42 % ≥ 30 % over 10 s`. */
  reason: string;
  /** The rounds whose loss and RTT are judged: within `window` of the newest, sent after `judgeAfter`. */
  window: RoundWindow;
  /** The newest rounds ordered by `at`, as many as the runs of good and bad rounds need (max(up, down)). */
  recent: RecentRounds;
  /** Loss and RTT are judged only over rounds sent after this (an outage is not the link's quality). */
  judgeAfter?: number;
  /** Rounds sent before this tell about a time before the link went down: ignored. */
  ignoreBefore?: number;
  /** The newest `at` seen, to tell a late round from a clock that stepped back. */
  newestAt?: number;
  /** The echoes of the newest round, for status. */
  lastEchoes: readonly Echo[];
  /** The window's loss (of the best `min_sites` sites) and mean RTT, as last judged; undefined: nothing to judge. */
  lossPct?: number;
  rttMeanMs?: number;
  /** The device whose carrier loss made the gateway down, until it comes back. */
  linkDown?: string;
  /** The latest `up: …` reason and the figures it shows (`key`), built again only when they change. */
  upReason?: { key: number; text: string };
}

/**
 * The judged rounds, in the order they arrived. `log` is shared by the successive healths of a
 * gateway and only ever appended to: each one sees `log[start, end)`, which never changes under it
 * (one that would append where another already did copies its part first). The window's loss and
 * RTT are the difference of two running totals, the newest round's and `base` (those just before
 * `start`), so a round costs the same whatever the window's length (a replay feeds millions) and
 * nothing is counted again when rounds leave. A round leaves from the front once it is older than
 * the window; one that arrived late (a lost echo settles at its timeout) leaves with the round
 * before it, at most a timeout later.
 */
export interface RoundWindow {
  log: RoundSummary[];
  start: number;
  end: number;
  /** The sites the totals count, by index; only ever appended to. */
  sites: readonly string[];
  /** The running totals before `log[start]` (a RoundSummary's `totals`). */
  base: readonly number[];
}

/** The newest rounds in the order they were sent, `log[start, end)`: shared like RoundWindow's log. */
export interface RecentRounds {
  log: RoundSummary[];
  start: number;
  end: number;
}

export interface HealthChange {
  /** Filled in by the caller: health does not know whose it is. */
  gateway?: string;
  from: HealthStatus;
  to: HealthStatus;
  reason: string;
  at: number;
}

export interface HealthUpdate {
  health: GatewayHealth;
  change?: HealthChange;
}

/** Hard bound on the rounds kept, whatever the settings (the config allows windows of fewer). */
export const MAX_ROUNDS = 4000;

/**
 * Leaving `degraded` needs loss ≤ lossUpPct × this (and RTT ≤ latencyUpMs × this): with only the
 * threshold itself, a loss around lossUpPct would toggle up/degraded (and log a line) every few
 * rounds, since 100 echoes measure 10 % loss only to about ±3 points.
 */
export const DEGRADED_EXIT = 0.5;

export function initialHealth(now: number): GatewayHealth {
  return { status: 'unknown', since: now, reason: 'unknown: not probed yet', window: EMPTY_WINDOW, recent: NO_RECENT, lastEchoes: [] };
}

/**
 * An empty array of the kind V8 gives arrays of `sample`'s type (objects, strings, doubles): the
 * empty logs, totals and site lists below are read by the same code as the full ones, a million
 * times in a replay, and one kind of array keeps that code fast (a frozen or integer array is
 * another kind). Never appended to: a first round starts a log of its own (appendTo).
 */
function emptyArrayLike<T>(sample: T): T[] {
  const array = [sample];
  array.pop();
  return array;
}

/** The log of every empty window and run. */
const EMPTY_LOG = emptyArrayLike<RoundSummary>({ at: 0, probed: 0, answered: 0, good: false, run: 0, totals: [] });
const NO_TOTALS: readonly number[] = emptyArrayLike(0.5);
/** The totals before a window's first round: no RTT yet (sum, count), no site yet. Doubles, as the totals after. */
const FIRST_TOTALS: readonly number[] = [...NO_TOTALS, 0, 0];
const EMPTY_WINDOW: RoundWindow = Object.freeze({ log: EMPTY_LOG, start: 0, end: 0, sites: emptyArrayLike(''), base: NO_TOTALS });
const NO_RECENT: RecentRounds = Object.freeze({ log: EMPTY_LOG, start: 0, end: 0 });

/**
 * `log[start, end)` with `round` after it: appended to the log itself when no one appended there
 * yet, else to a copy of that part (then starting at 0). A log mostly behind `start` is copied
 * too, so that memory stays bounded by what is seen; soon (64 rounds behind), so that the rounds
 * no one sees die young instead of being kept and moved by the garbage collector.
 */
function appendTo(log: RoundSummary[], start: number, end: number, round: RoundSummary): RoundSummary[] {
  const shared = end === log.length && log !== EMPTY_LOG && !(start > 64 && start * 2 > log.length);
  const next = shared ? log : log.slice(start, end);
  next.push(round);
  return next;
}

/** A reason without the state it starts with (`down: loss 42 % …` → `loss 42 % …`), for a line or column that names the state already. */
export function reasonDetail(reason: string): string {
  return reason.replace(/^(up|degraded|down|unknown): /, '');
}

export function isUsable(health: GatewayHealth): boolean {
  return health.status === 'up' || health.status === 'degraded';
}

/** The gateway as `chooseGateway` sees it: up when usable, the sites of the last round, the reason. */
export function observationOf(health: GatewayHealth): GatewayObservation {
  const sites = health.lastEchoes.map((echo): SiteObservation => {
    const site: SiteObservation = { site: echo.site, answered: echo.answered, replies: echo.answered ? 1 : 0, sent: 1 };
    if (echo.rttMs !== undefined) site.rttMs = echo.rttMs;
    return site;
  });
  const observation: GatewayObservation = { up: isUsable(health), sites, reason: health.reason };
  if (health.status === 'degraded') observation.degraded = true;
  return observation;
}

export function observeRound(health: GatewayHealth, round: Round, settings: HealthSettings): HealthUpdate {
  // Nothing probed (no site resolved): no news about the gateway.
  if (round.echoes.length === 0) return { health };
  if (health.ignoreBefore !== undefined && round.at < health.ignoreBefore) return { health };
  const next = copyOf(health);
  // A round may settle after a newer one (a lost echo waits for its timeout); one older than that
  // means the clock stepped back, and the window's times mean nothing any more.
  if (health.newestAt !== undefined && round.at < health.newestAt - settings.timeoutMs - settings.intervalMs) {
    next.window = EMPTY_WINDOW;
    next.recent = NO_RECENT;
    next.since = Math.min(health.since, round.at);
    next.judgeAfter = next.ignoreBefore = next.newestAt = undefined;
  }
  const summary = summarize(round, settings);
  next.recent = keepRecent(next.recent, summary, settings);
  if (next.newestAt === undefined || round.at >= next.newestAt) {
    next.newestAt = round.at;
    next.lastEchoes = round.echoes;
  }
  next.window = judgedWindow(next, summary, round.echoes, settings);
  return judge(next, summary, settings);
}

export function observeLink(
  health: GatewayHealth,
  link: { up: boolean; dev: string; at: number },
  _settings: HealthSettings,
): HealthUpdate {
  if (!link.up) {
    // Rounds sent before the carrier went are history, and so is the window's quality.
    const next = copyOf(health);
    next.window = EMPTY_WINDOW;
    next.recent = NO_RECENT;
    next.lossPct = next.rttMeanMs = undefined;
    next.judgeAfter = next.ignoreBefore = link.at;
    next.linkDown = link.dev;
    return moveTo(next, 'down', `down: link ${link.dev} has no carrier`, link.at);
  }
  // Carrier alone proves nothing beyond the first hop: only good rounds bring the gateway up.
  if (health.linkDown === undefined) return { health };
  const next = copyOf(health);
  next.reason = `down: link ${health.linkDown} has carrier again, waiting for good rounds`;
  next.linkDown = undefined;
  return { health: next };
}

/** Judges `health`, observeRound's own fresh copy, which it completes in place. */
function judge(health: GatewayHealth, round: RoundSummary, settings: HealthSettings): HealthUpdate {
  const run = trailingRun(health.recent);
  const at = health.newestAt!;
  if (health.status === 'down') {
    if (-run >= settings.down) {
      // Still unreachable: the link's quality counts from the next round on, so that an outage
      // does not hold the gateway down until it leaves the window. A bad round now and then
      // (random loss) restarts nothing.
      health.judgeAfter = Math.max(health.judgeAfter ?? round.at, round.at);
      health.window = dropBefore(health.window, health.judgeAfter);
      if (health.linkDown === undefined) health.reason = unreachableReason(health.recent, settings);
    }
    measureWindow(health, settings);
    if (run < settings.up || qualityProblem(health, settings, 'up')) return { health };
    health.linkDown = undefined;
    return moveTo(health, 'up', upReason(health), at);
  }

  if (-run >= settings.down) {
    health.judgeAfter = at;
    health.window = dropBefore(health.window, at);
    measureWindow(health, settings);
    return moveTo(health, 'down', unreachableReason(health.recent, settings), at);
  }
  const full = measureWindow(health, settings);
  if (full) {
    const problem = qualityProblem(health, settings, 'down');
    if (problem) return moveTo(health, 'down', `down: ${problem} over ${formatSeconds(settings.windowMs)}`, at);
  }
  if (health.status === 'unknown') return run > 0 ? moveTo(health, 'up', upReason(health), at) : { health };

  const degradedBy = full ? qualityProblem(health, settings, 'degraded') : undefined;
  // Up and degraded judge the same window: judged again before the window renewed, they would
  // mostly re-read the same echoes and follow its noise.
  const settled = at - health.since >= settings.windowMs;
  if (health.status === 'up' && degradedBy && settled) return moveTo(health, 'degraded', `degraded: ${degradedBy}`, at);
  if (health.status === 'degraded') {
    if (full && settled && !qualityProblem(health, settings, 'exit-degraded')) return moveTo(health, 'up', upReason(health), at);
    const still = degradedBy ?? qualityProblem(health, settings, 'exit-degraded');
    if (still) health.reason = `degraded: ${still}`;
    return { health };
  }
  health.reason = upReason(health);
  return { health };
}

/** Sets the status and reason of `health` (a fresh copy), with a change when the status is new. */
function moveTo(health: GatewayHealth, status: HealthStatus, reason: string, at: number): HealthUpdate {
  health.reason = reason;
  if (health.status === status) return { health };
  const change: HealthChange = { from: health.status, to: status, reason, at };
  health.status = status;
  health.since = at;
  return { health, change };
}

/** A copy with every field spelled out: one object shape, cheap to copy a million times in a replay. */
function copyOf(health: GatewayHealth): GatewayHealth {
  return {
    status: health.status,
    since: health.since,
    reason: health.reason,
    window: health.window,
    recent: health.recent,
    judgeAfter: health.judgeAfter,
    ignoreBefore: health.ignoreBefore,
    newestAt: health.newestAt,
    lastEchoes: health.lastEchoes,
    lossPct: health.lossPct,
    rttMeanMs: health.rttMeanMs,
    linkDown: health.linkDown,
    upReason: health.upReason,
  };
}

function summarize(round: Round, settings: HealthSettings): RoundSummary {
  let answered = 0;
  for (const echo of round.echoes) if (echo.answered) answered++;
  const probed = round.echoes.length;
  // A site that could not be probed (its name did not resolve) must not fail every gateway.
  const good = answered >= Math.min(settings.minSites, probed);
  return { at: round.at, probed, answered, good, run: good ? 1 : -1, totals: NO_TOTALS };
}

/** The newest rounds in the order they were sent, as many as the runs need. */
function keepRecent(recent: RecentRounds, round: RoundSummary, settings: HealthSettings): RecentRounds {
  const keep = Math.min(Math.max(settings.up, settings.down), MAX_ROUNDS);
  const { log, start, end } = recent;
  if (start === end || log[end - 1]!.at <= round.at) {
    // In order, as nearly every round is: appended to the shared log, its run one longer than the last one's.
    if (start < end) round.run = runAfter(log[end - 1]!, round.good);
    const next = appendTo(log, start, end, round);
    return { log: next, start: Math.max(next === log ? start : 0, next.length - keep), end: next.length };
  }
  // Late (a lost echo settled at its timeout after newer rounds): a copy, with it in its place.
  let index = end;
  while (index > start && log[index - 1]!.at > round.at) index--;
  const from = Math.max(start, end + 1 - keep);
  // Older than every round kept: the runs are as they were (with up and down 1, keeping none
  // would leave no run at all).
  if (index < from) return { log, start: Math.max(start, end - keep), end };
  const rounds = [...log.slice(from, index), round];
  round.run = index > from ? runAfter(rounds.at(-2)!, round.good) : round.run;
  // The runs after it, counted again, on copies: the window shares these rounds.
  for (let i = index; i < end; i++) rounds.push({ ...log[i]!, run: runAfter(rounds.at(-1)!, log[i]!.good) });
  return { log: rounds, start: 0, end: rounds.length };
}

/** The run of a round of goodness `good` sent right after `previous`. */
function runAfter(previous: RoundSummary, good: boolean): number {
  if (previous.good !== good) return good ? 1 : -1;
  return good ? previous.run + 1 : previous.run - 1;
}

/** The window after this round: the round in (unless older than what is judged), the rounds out of the window or beyond MAX_ROUNDS out. */
function judgedWindow(health: GatewayHealth, round: RoundSummary, echoes: readonly Echo[], settings: HealthSettings): RoundWindow {
  const from = judgedFrom(health, settings);
  if (round.at <= from) return dropBefore(health.window, from);
  const window = health.window;
  let sites = window.sites;
  // The totals so far, plus this round's echoes (they count in the window while it is in it).
  const totals = (window.end > window.start ? window.log[window.end - 1]!.totals : FIRST_TOTALS).slice();
  for (let position = 0; position < echoes.length; position++) {
    const echo = echoes[position]!;
    if (echo.carried) continue; // counted in the round it came in
    // Rounds list their sites in the same order, mostly: look there first.
    let index = sites[position] === echo.site ? position : sites.indexOf(echo.site);
    if (index < 0) {
      sites = [...sites, echo.site];
      index = sites.length - 1;
    }
    while (totals.length < 4 + 2 * index) totals.push(0);
    totals[2 + 2 * index]!++;
    if (!echo.answered) continue;
    totals[3 + 2 * index]!++;
    if (echo.rttMs !== undefined) {
      totals[0]! += echo.rttMs;
      totals[1]!++;
    }
  }
  round.totals = totals; // the summary is this round's own, not shared yet
  const log = appendTo(window.log, window.start, window.end, round);
  const end = log.length;
  const first = log === window.log ? window.start : 0;
  const start = firstKept(log, first, end, from);
  return { log, start, end, sites, base: start === first ? window.base : log[start - 1]!.totals };
}

function judgedFrom(health: GatewayHealth, settings: HealthSettings): number {
  return Math.max(health.judgeAfter ?? -Infinity, health.newestAt! - settings.windowMs);
}

/** Drops rounds from the front while they are sent at or before `from`, or beyond MAX_ROUNDS. */
function dropBefore(window: RoundWindow, from: number): RoundWindow {
  const { log, end } = window;
  const start = firstKept(log, window.start, end, from);
  if (start === window.start) return window;
  if (start === end) return EMPTY_WINDOW;
  return { log, start, end, sites: window.sites, base: log[start - 1]!.totals };
}

/** The first of `log[start, end)` to keep: the ones before it were sent at or before `from`, or are beyond MAX_ROUNDS. */
function firstKept(log: readonly RoundSummary[], start: number, end: number, from: number): number {
  while (start < end && (log[start]!.at <= from || end - start > MAX_ROUNDS)) start++;
  return start;
}

/** Consecutive good (> 0) or bad (< 0) rounds at the newest end, in the order they were sent. */
function trailingRun(recent: RecentRounds): number {
  return recent.start === recent.end ? 0 : recent.log[recent.end - 1]!.run;
}

/**
 * Sets the loss and mean RTT of `health` (its own fresh copy) from its window; true when the
 * judged rounds cover the whole window (a fall is judged only on a full window).
 *
 * Loss is that of the best `min_sites` sites (the min_sites-th lowest loss among the sites probed
 * in the window): an uplink that loses packets loses them to every site, while a check site that
 * is down, everywhere or behind one operator, is a site problem, which the rounds' `min_sites`
 * judge. Over all sites, one dead site of two would be 50 % loss on every gateway.
 */
function measureWindow(health: GatewayHealth, settings: HealthSettings): boolean {
  const { log, start, end, base } = health.window;
  if (start === end) {
    health.lossPct = health.rttMeanMs = undefined;
    return false;
  }
  const totals = log[end - 1]!.totals;
  // Per site, what the window sent and lost: totals less base (shorter when a site came later).
  let least = Infinity;
  const losses: number[] | undefined = settings.minSites > 1 ? [] : undefined;
  for (let i = 2; i < totals.length; i += 2) {
    const sent = totals[i]! - (i < base.length ? base[i]! : 0);
    if (sent === 0) continue;
    const loss = (sent - totals[i + 1]! + (i < base.length ? base[i + 1]! : 0)) / sent;
    // With min_sites 1 (the usual case, once a round) the least loss, without a list to sort.
    if (losses) losses.push(loss);
    else least = Math.min(least, loss);
  }
  if (losses && losses.length > 0) {
    losses.sort((a, b) => a - b);
    least = losses[Math.min(settings.minSites, losses.length) - 1]!;
  }
  const timed = totals[1]! - (base.length > 0 ? base[1]! : 0);
  health.lossPct = least === Infinity ? undefined : least * 100;
  health.rttMeanMs = timed > 0 ? (totals[0]! - (base.length > 0 ? base[0]! : 0)) / timed : undefined;
  return health.newestAt! - log[start]!.at >= settings.windowMs - settings.intervalMs;
}

type QualityTest = 'down' | 'up' | 'degraded' | 'exit-degraded';

/** What about the window's loss or RTT fails the test, as a reason; undefined when it passes. */
function qualityProblem(health: GatewayHealth, settings: HealthSettings, test: QualityTest): string | undefined {
  const loss = health.lossPct;
  const rtt = health.rttMeanMs;
  if (test === 'down') {
    if (loss !== undefined && loss >= settings.lossDownPct) return `loss ${formatPct(loss)} ≥ ${settings.lossDownPct} %`;
    if (rtt !== undefined && settings.latencyDownMs !== undefined && rtt >= settings.latencyDownMs) {
      return `mean rtt ${formatMs(rtt)} ≥ ${settings.latencyDownMs} ms`;
    }
    return undefined;
  }
  const factor = test === 'exit-degraded' ? DEGRADED_EXIT : 1;
  const lossLimit = settings.lossUpPct * factor;
  if (loss !== undefined && loss > lossLimit) return `loss ${formatPct(loss)} > ${round1(lossLimit)} %`;
  if (rtt !== undefined && settings.latencyUpMs !== undefined && rtt > settings.latencyUpMs * factor) {
    return `mean rtt ${formatMs(rtt)} > ${round1(settings.latencyUpMs * factor)} ms`;
  }
  return undefined;
}

function unreachableReason(recent: RecentRounds, settings: HealthSettings): string {
  const run = recent.log.slice(Math.max(recent.start, recent.end - settings.down), recent.end);
  const probed = run.at(-1)!.probed;
  const most = Math.max(...run.map((round) => round.answered));
  const count = `${settings.down} round${settings.down === 1 ? '' : 's'}`;
  if (most === 0) return `down: 0/${probed} sites answered in ${count}`;
  return `down: at most ${most}/${probed} sites answered in ${count}, min_sites is ${settings.minSites}`;
}

function upReason(health: GatewayHealth): string {
  const last = health.recent.log[health.recent.end - 1]!;
  const loss = Math.round(health.lossPct ?? 0);
  // Whole ms from 10 ms on: a mean over the window to 0.1 ms is noise, and every round would
  // build the text again (the status and metrics have the exact figures).
  const mean = health.rttMeanMs;
  const rtt = mean === undefined ? -1 : mean < 10 ? round1(mean) : Math.round(mean);
  // Built again only when a figure it shows changed: it is judged every round, and mostly is the same.
  const key = ((last.answered * 256 + last.probed) * 101 + loss) * 1e7 + rtt * 10;
  if (health.upReason?.key !== key) {
    health.upReason = { key, text: `up: ${last.answered}/${last.probed} sites, loss ${loss} %${rtt < 0 ? '' : `, rtt ${rtt} ms`}` };
  }
  return health.upReason.text;
}

const round1 = (value: number) => Math.round(value * 10) / 10;
const formatPct = (pct: number) => `${Math.round(pct)} %`;
const formatMs = (ms: number) => `${round1(ms)} ms`;
const formatSeconds = (ms: number) => `${round1(ms / 1000)} s`;
