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
}

export interface Echo {
  site: string;
  answered: boolean;
  rttMs?: number;
}

/** One round: one echo to each of the gateway's sites, sent at `at` (ms, caller's clock). */
export interface Round {
  at: number;
  echoes: Echo[];
}

export type HealthStatus = 'unknown' | 'up' | 'degraded' | 'down';

/** What the window keeps of one round. */
export interface RoundSummary {
  at: number;
  probed: number;
  answered: number;
  /** Sum and count of the RTTs reported by the answered echoes. */
  rttTotalMs: number;
  timed: number;
  /** At least min_sites (or every probed site, if fewer) answered. */
  good: boolean;
  /** The round's echoes, for the window's count per site. */
  echoes: readonly Echo[];
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
  recent: readonly RoundSummary[];
  /** Loss and RTT are judged only over rounds sent after this (an outage is not the link's quality). */
  judgeAfter?: number;
  /** Rounds sent before this tell about a time before the link went down: ignored. */
  ignoreBefore?: number;
  /** The newest `at` seen, to tell a late round from a clock that stepped back. */
  newestAt?: number;
  /** The echoes of the newest round, for status. */
  lastEchoes: readonly Echo[];
  /** The device whose carrier loss made the gateway down, until it comes back. */
  linkDown?: string;
  /** The latest `up: …` reason and the figures it shows (`key`), built again only when they change. */
  upReason?: { key: number; text: string };
}

/**
 * The judged rounds, in the order they arrived, with their totals kept as rounds come and go, so
 * that a round costs the same whatever the window's length (a replay feeds millions). `log` is
 * shared by the successive healths of a gateway and only ever appended to: each one sees
 * `log[start, end)`, which never changes under it. A round leaves from the front once it is older
 * than the window; one that arrived late (a lost echo settles at its timeout) leaves with the
 * round before it, at most a timeout later.
 */
export interface RoundWindow {
  log: RoundSummary[];
  start: number;
  end: number;
  /** Per site (by index i in `sites`), the echoes sent (`counts[2i]`) and answered (`counts[2i + 1]`) within the window. */
  sites: readonly string[];
  counts: readonly number[];
  rttTotalMs: number;
  timed: number;
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
  return { status: 'unknown', since: now, reason: 'unknown: not probed yet', window: EMPTY_WINDOW, recent: [], lastEchoes: [] };
}

const EMPTY_WINDOW: RoundWindow = Object.freeze({
  log: Object.freeze([]) as unknown as RoundSummary[],
  start: 0,
  end: 0,
  sites: Object.freeze([]),
  counts: Object.freeze([]),
  rttTotalMs: 0,
  timed: 0,
});

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
    next.recent = [];
    next.since = Math.min(health.since, round.at);
    next.judgeAfter = next.ignoreBefore = next.newestAt = undefined;
  }
  const summary = summarize(round, settings);
  next.recent = keepRecent(next.recent, summary, settings);
  if (next.newestAt === undefined || round.at >= next.newestAt) {
    next.newestAt = round.at;
    next.lastEchoes = round.echoes;
  }
  next.window = judgedWindow(next, summary, settings);
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
    next.recent = [];
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
  const runs = { good: Math.max(run, 0), bad: Math.max(-run, 0) };
  const at = health.newestAt!;
  if (health.status === 'down') {
    if (runs.bad >= settings.down) {
      // Still unreachable: the link's quality counts from the next round on, so that an outage
      // does not hold the gateway down until it leaves the window. A bad round now and then
      // (random loss) restarts nothing.
      health.judgeAfter = Math.max(health.judgeAfter ?? round.at, round.at);
      health.window = dropBefore(health.window, health.judgeAfter);
      if (health.linkDown === undefined) health.reason = unreachableReason(health.recent, settings);
    }
    if (runs.good < settings.up) return { health };
    const quality = windowQuality(health, settings);
    if (qualityProblem(quality, settings, 'up')) return { health };
    health.linkDown = undefined;
    return moveTo(health, 'up', upReason(health, quality), at);
  }

  if (runs.bad >= settings.down) {
    health.judgeAfter = at;
    health.window = dropBefore(health.window, at);
    return moveTo(health, 'down', unreachableReason(health.recent, settings), at);
  }
  const quality = windowQuality(health, settings);
  if (quality.full) {
    const problem = qualityProblem(quality, settings, 'down');
    if (problem) return moveTo(health, 'down', `down: ${problem} over ${formatSeconds(settings.windowMs)}`, at);
  }
  if (health.status === 'unknown') return runs.good > 0 ? moveTo(health, 'up', upReason(health, quality), at) : { health };

  const degradedBy = quality.full ? qualityProblem(quality, settings, 'degraded') : undefined;
  // Up and degraded judge the same window: judged again before the window renewed, they would
  // mostly re-read the same echoes and follow its noise.
  const settled = at - health.since >= settings.windowMs;
  if (health.status === 'up' && degradedBy && settled) return moveTo(health, 'degraded', `degraded: ${degradedBy}`, at);
  if (health.status === 'degraded') {
    if (quality.full && settled && !qualityProblem(quality, settings, 'exit-degraded'))
      return moveTo(health, 'up', upReason(health, quality), at);
    const still = degradedBy ?? qualityProblem(quality, settings, 'exit-degraded');
    if (still) health.reason = `degraded: ${still}`;
    return { health };
  }
  health.reason = upReason(health, quality);
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
    linkDown: health.linkDown,
    upReason: health.upReason,
  };
}

function summarize(round: Round, settings: HealthSettings): RoundSummary {
  let answered = 0;
  let rttTotalMs = 0;
  let timed = 0;
  for (const echo of round.echoes) {
    if (!echo.answered) continue;
    answered++;
    if (echo.rttMs !== undefined) {
      rttTotalMs += echo.rttMs;
      timed++;
    }
  }
  const probed = round.echoes.length;
  // A site that could not be probed (its name did not resolve) must not fail every gateway.
  const good = answered >= Math.min(settings.minSites, probed);
  return { at: round.at, probed, answered, rttTotalMs, timed, good, echoes: round.echoes };
}

/** The newest rounds in the order they were sent, as many as the runs need. */
function keepRecent(recent: readonly RoundSummary[], round: RoundSummary, settings: HealthSettings): RoundSummary[] {
  const keep = Math.min(Math.max(settings.up, settings.down), MAX_ROUNDS);
  let index = recent.length;
  while (index > 0 && recent[index - 1]!.at > round.at) index--;
  const from = Math.max(0, recent.length + 1 - keep);
  if (index < from) return [...recent.slice(from)]; // older than every round the runs need
  const next = recent.slice(from, index);
  next.push(round);
  for (let i = index; i < recent.length; i++) next.push(recent[i]!);
  return next;
}

/** The window after this round: the round in (unless older than what is judged), the rounds out of the window or beyond MAX_ROUNDS out. */
function judgedWindow(health: GatewayHealth, round: RoundSummary, settings: HealthSettings): RoundWindow {
  const from = judgedFrom(health, settings);
  if (round.at <= from) return dropBefore(health.window, from);
  const window = health.window;
  const shared = window.end === window.log.length && !Object.isFrozen(window.log);
  const log = shared ? window.log : window.log.slice(window.start, window.end);
  const start = shared ? window.start : 0;
  const end = shared ? window.end : window.end - window.start;
  log[end] = round;
  let sites = window.sites;
  const counts = window.counts.slice();
  const echoes = round.echoes;
  for (let position = 0; position < echoes.length; position++) {
    const echo = echoes[position]!;
    // Rounds list their sites in the same order, mostly: look there first.
    let index = sites[position] === echo.site ? position : sites.indexOf(echo.site);
    if (index < 0) {
      sites = [...sites, echo.site];
      index = sites.length - 1;
      counts.push(0, 0);
    }
    counts[2 * index]!++;
    if (echo.answered) counts[2 * index + 1]!++;
  }
  const next: RoundWindow = {
    log,
    start,
    end: end + 1,
    sites,
    counts,
    rttTotalMs: window.rttTotalMs + round.rttTotalMs,
    timed: window.timed + round.timed,
  };
  return dropBefore(next, from, true);
}

function judgedFrom(health: GatewayHealth, settings: HealthSettings): number {
  return Math.max(health.judgeAfter ?? -Infinity, health.newestAt! - settings.windowMs);
}

/**
 * Drops rounds from the front while they are sent at or before `from`, or beyond MAX_ROUNDS.
 * `owned`: the window and its counts are a fresh copy of this round's, which may be changed.
 */
function dropBefore(window: RoundWindow, from: number, owned = false): RoundWindow {
  const { log, end, sites } = window;
  let start = window.start;
  if (start === end || (log[start]!.at > from && end - start <= MAX_ROUNDS)) return window;
  const counts = (owned ? window.counts : window.counts.slice()) as number[];
  let { rttTotalMs, timed } = window;
  while (start < end && (log[start]!.at <= from || end - start > MAX_ROUNDS)) {
    const gone = log[start++]!;
    const echoes = gone.echoes;
    for (let position = 0; position < echoes.length; position++) {
      const echo = echoes[position]!;
      const index = sites[position] === echo.site ? position : sites.indexOf(echo.site);
      counts[2 * index]!--;
      if (echo.answered) counts[2 * index + 1]!--;
    }
    rttTotalMs -= gone.rttTotalMs;
    timed -= gone.timed;
  }
  if (start === end) return EMPTY_WINDOW;
  // Most of the log behind: start a fresh one, so that memory stays bounded by the window.
  const compact = start > 1024 && start * 2 > log.length;
  return {
    log: compact ? log.slice(start, end) : log,
    start: compact ? 0 : start,
    end: compact ? end - start : end,
    sites,
    counts,
    rttTotalMs,
    timed,
  };
}

/** Consecutive good (> 0) or bad (< 0) rounds at the newest end, in the order they were sent. */
function trailingRun(rounds: readonly RoundSummary[]): number {
  const last = rounds.at(-1);
  if (!last) return 0;
  let count = 0;
  for (let i = rounds.length - 1; i >= 0 && rounds[i]!.good === last.good; i--) count++;
  return last.good ? count : -count;
}

interface WindowQuality {
  /** The judged rounds cover the whole window (a fall is judged only on a full window). */
  full: boolean;
  lossPct?: number;
  rttMeanMs?: number;
}

/**
 * Loss is that of the best `min_sites` sites (the min_sites-th lowest loss among the sites probed
 * in the window): an uplink that loses packets loses them to every site, while a check site that
 * is down, everywhere or behind one operator, is a site problem, which the rounds' `min_sites`
 * judge. Over all sites, one dead site of two would be 50 % loss on every gateway.
 */
function windowQuality(health: GatewayHealth, settings: HealthSettings): WindowQuality {
  const { log, start, end, counts, rttTotalMs, timed } = health.window;
  const oldest = start < end ? log[start]!.at : Infinity;
  const quality: WindowQuality = { full: health.newestAt! - oldest >= settings.windowMs - settings.intervalMs };
  if (settings.minSites === 1) {
    // The usual case, once a round: the least loss, without a list to sort.
    let least = Infinity;
    for (let i = 0; i < counts.length; i += 2) {
      if (counts[i]! > 0) least = Math.min(least, (counts[i]! - counts[i + 1]!) / counts[i]!);
    }
    if (least !== Infinity) quality.lossPct = least * 100;
  } else {
    const losses: number[] = [];
    for (let i = 0; i < counts.length; i += 2) {
      if (counts[i]! > 0) losses.push(((counts[i]! - counts[i + 1]!) / counts[i]!) * 100);
    }
    losses.sort((a, b) => a - b);
    if (losses.length > 0) quality.lossPct = losses[Math.min(settings.minSites, losses.length) - 1]!;
  }
  if (timed > 0) quality.rttMeanMs = rttTotalMs / timed;
  return quality;
}

type QualityTest = 'down' | 'up' | 'degraded' | 'exit-degraded';

/** What about the window's loss or RTT fails the test, as a reason; undefined when it passes. */
function qualityProblem(quality: WindowQuality, settings: HealthSettings, test: QualityTest): string | undefined {
  const loss = quality.lossPct;
  const rtt = quality.rttMeanMs;
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

function unreachableReason(rounds: readonly RoundSummary[], settings: HealthSettings): string {
  const run = rounds.slice(-settings.down);
  const probed = run.at(-1)!.probed;
  const most = Math.max(...run.map((round) => round.answered));
  const count = `${settings.down} round${settings.down === 1 ? '' : 's'}`;
  if (most === 0) return `down: 0/${probed} sites answered in ${count}`;
  return `down: at most ${most}/${probed} sites answered in ${count}, min_sites is ${settings.minSites}`;
}

function upReason(health: GatewayHealth, quality: WindowQuality): string {
  const last = health.recent.at(-1)!;
  const loss = Math.round(quality.lossPct ?? 0);
  const rtt = quality.rttMeanMs === undefined ? -1 : round1(quality.rttMeanMs);
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
