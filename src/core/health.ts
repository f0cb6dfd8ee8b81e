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
}

export interface GatewayHealth {
  status: HealthStatus;
  /** When the status last changed. */
  since: number;
  /** Why it has this status, e.g. `down: loss 42 % ≥ 30 % over 10 s`. */
  reason: string;
  /** The latest rounds ordered by `at`: those within `window`, at least the last max(up, down), at most MAX_ROUNDS. */
  rounds: readonly RoundSummary[];
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
  return { status: 'unknown', since: now, reason: 'unknown: not probed yet', rounds: [], lastEchoes: [] };
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
  let next: GatewayHealth = { ...health };
  // A round may settle after a newer one (a lost echo waits for its timeout); one older than that
  // means the clock stepped back, and the window's times mean nothing any more.
  if (health.newestAt !== undefined && round.at < health.newestAt - settings.timeoutMs - settings.intervalMs) {
    next = { ...next, rounds: [], since: Math.min(health.since, round.at) };
    delete next.judgeAfter;
    delete next.ignoreBefore;
    delete next.newestAt;
  }
  const summary = summarize(round, settings);
  next.rounds = keepWindow(insertByTime(next.rounds, summary), settings);
  if (next.newestAt === undefined || round.at >= next.newestAt) {
    next.newestAt = round.at;
    next.lastEchoes = round.echoes;
  }
  return judge(next, summary, settings);
}

export function observeLink(
  health: GatewayHealth,
  link: { up: boolean; dev: string; at: number },
  _settings: HealthSettings,
): HealthUpdate {
  if (!link.up) {
    // Rounds sent before the carrier went are history, and so is the window's quality.
    const next: GatewayHealth = { ...health, rounds: [], judgeAfter: link.at, ignoreBefore: link.at, linkDown: link.dev };
    return moveTo(next, 'down', `down: link ${link.dev} has no carrier`, link.at);
  }
  // Carrier alone proves nothing beyond the first hop: only good rounds bring the gateway up.
  if (health.linkDown === undefined) return { health };
  const next: GatewayHealth = { ...health, reason: `down: link ${health.linkDown} has carrier again, waiting for good rounds` };
  delete next.linkDown;
  return { health: next };
}

function judge(health: GatewayHealth, round: RoundSummary, settings: HealthSettings): HealthUpdate {
  const runs = trailingRuns(health.rounds);
  const at = health.newestAt!;
  if (health.status === 'down') {
    let next = health;
    if (runs.bad >= settings.down) {
      // Still unreachable: the link's quality counts from the next round on, so that an outage
      // does not hold the gateway down until it leaves the window. A bad round now and then
      // (random loss) restarts nothing.
      next = { ...next, judgeAfter: Math.max(next.judgeAfter ?? round.at, round.at) };
      if (next.linkDown === undefined) next.reason = unreachableReason(next.rounds, settings);
    }
    if (runs.good < settings.up) return { health: next };
    const quality = windowQuality(next, settings);
    if (qualityProblem(quality, settings, 'up')) return { health: next };
    const rising = { ...next };
    delete rising.linkDown;
    return moveTo(rising, 'up', upReason(rising, quality), at);
  }

  if (runs.bad >= settings.down) {
    return moveTo({ ...health, judgeAfter: at }, 'down', unreachableReason(health.rounds, settings), at);
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
    return { health: still ? { ...health, reason: `degraded: ${still}` } : health };
  }
  return { health: { ...health, reason: upReason(health, quality) } };
}

function moveTo(health: GatewayHealth, status: HealthStatus, reason: string, at: number): HealthUpdate {
  if (health.status === status) return { health: { ...health, reason } };
  const change: HealthChange = { from: health.status, to: status, reason, at };
  return { health: { ...health, status, since: at, reason }, change };
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
  return { at: round.at, probed, answered, rttTotalMs, timed, good };
}

function insertByTime(rounds: readonly RoundSummary[], round: RoundSummary): RoundSummary[] {
  let index = rounds.length;
  while (index > 0 && rounds[index - 1]!.at > round.at) index--;
  return [...rounds.slice(0, index), round, ...rounds.slice(index)];
}

/** The rounds within the window, but never fewer than the runs need, nor more than MAX_ROUNDS. */
function keepWindow(rounds: RoundSummary[], settings: HealthSettings): RoundSummary[] {
  const newest = rounds.at(-1)!.at;
  const keepAtLeast = Math.min(Math.max(settings.up, settings.down), MAX_ROUNDS);
  let first = 0;
  while (first < rounds.length - keepAtLeast && rounds[first]!.at <= newest - settings.windowMs) first++;
  first = Math.max(first, rounds.length - MAX_ROUNDS);
  return first === 0 ? rounds : rounds.slice(first);
}

/** Consecutive good and bad rounds at the newest end, in the order they were sent. */
function trailingRuns(rounds: readonly RoundSummary[]): { good: number; bad: number } {
  const last = rounds.at(-1);
  if (!last) return { good: 0, bad: 0 };
  let count = 0;
  for (let i = rounds.length - 1; i >= 0 && rounds[i]!.good === last.good; i--) count++;
  return last.good ? { good: count, bad: 0 } : { good: 0, bad: count };
}

interface WindowQuality {
  /** The judged rounds cover the whole window (a fall is judged only on a full window). */
  full: boolean;
  probed: number;
  answered: number;
  lossPct?: number;
  rttMeanMs?: number;
}

function windowQuality(health: GatewayHealth, settings: HealthSettings): WindowQuality {
  const newest = health.newestAt!;
  const from = Math.max(health.judgeAfter ?? -Infinity, newest - settings.windowMs);
  let [probed, answered, rttTotalMs, timed] = [0, 0, 0, 0];
  let oldest = Infinity;
  for (const round of health.rounds) {
    if (round.at <= from) continue;
    oldest = Math.min(oldest, round.at);
    probed += round.probed;
    answered += round.answered;
    rttTotalMs += round.rttTotalMs;
    timed += round.timed;
  }
  const quality: WindowQuality = { full: newest - oldest >= settings.windowMs - settings.intervalMs, probed, answered };
  if (probed > 0) quality.lossPct = ((probed - answered) / probed) * 100;
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
  const last = health.rounds.at(-1)!;
  const rtt = quality.rttMeanMs === undefined ? '' : `, rtt ${formatMs(quality.rttMeanMs)}`;
  return `up: ${last.answered}/${last.probed} sites, loss ${formatPct(quality.lossPct ?? 0)}${rtt}`;
}

const round1 = (value: number) => Math.round(value * 10) / 10;
const formatPct = (pct: number) => `${Math.round(pct)} %`;
const formatMs = (ms: number) => `${round1(ms)} ms`;
const formatSeconds = (ms: number) => `${round1(ms / 1000)} s`;
