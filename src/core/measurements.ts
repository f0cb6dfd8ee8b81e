// The rolling window behind `netgwm status` and the metrics: what each site answered through each
// gateway in its recent probes. Pure: the cycle records into the state it is about to save, and
// the window is bounded by count and age so the state file never grows.
import { own } from './records.js';
import type { Observations, ProbeSample, SiteObservation, State, SwitchRecord, Totals } from './types.js';

/** Per gateway: at most this many site probes, none older than this. */
export const WINDOW = { maxSamples: 100, maxAgeMs: 3_600_000 } as const;

/** What the last cycle saw: the probed sites, the active gateway; older samples age out. */
export function recordProbes(state: State, observations: Observations, now: number, active: string | undefined): State {
  const samples: Record<string, ProbeSample[]> = {};
  for (const [name, kept] of Object.entries(state.samples ?? {})) samples[name] = kept;
  for (const [name, observation] of Object.entries(observations)) {
    const fresh = observation.sites.filter((site) => !site.skipped).map((site) => sampleOf(site, now));
    samples[name] = [...(own(samples, name) ?? []), ...fresh];
  }
  for (const name of Object.keys(samples)) {
    samples[name] = samples[name]!.filter((sample) => now - sample.at <= WINDOW.maxAgeMs).slice(-WINDOW.maxSamples);
    if (samples[name].length === 0) delete samples[name];
  }
  const next: State = { ...state, samples };
  if (active === undefined) delete next.active;
  else next.active = active;
  return next;
}

// A site that could not be pinged at all (no route to the gateway) carries no counts: one echo lost.
function sampleOf(site: SiteObservation, now: number): ProbeSample {
  const sample: ProbeSample = { at: now, site: site.site, sent: site.sent ?? 1, replies: site.replies ?? (site.answered ? 1 : 0) };
  if (site.rttMs !== undefined) sample.rttMs = site.rttMs;
  return sample;
}

export interface WindowSummary {
  /** Site probes in the window, and the echoes they sent and got back. */
  probes: number;
  sent: number;
  replies: number;
  /** Lost echoes / sent echoes; undefined when nothing was sent. */
  lossRatio?: number;
  /** Mean RTT over every reply in the window, and the highest per-probe mean. */
  rttMeanMs?: number;
  rttMaxMs?: number;
  /** Time of the oldest sample. */
  since?: number;
  /** The samples of the newest probe of this gateway (one per site). */
  last: ProbeSample[];
}

export function summarizeWindow(samples: ProbeSample[] = []): WindowSummary {
  const sent = sum(samples, (sample) => sample.sent);
  const replies = sum(samples, (sample) => sample.replies);
  const newest = samples.at(-1)?.at;
  const summary: WindowSummary = { probes: samples.length, sent, replies, last: samples.filter((sample) => sample.at === newest) };
  if (sent > 0) summary.lossRatio = Math.max(0, sent - replies) / sent;
  const mean = meanRtt(samples);
  if (mean !== undefined) {
    summary.rttMeanMs = mean;
    summary.rttMaxMs = Math.max(...timed(samples).map((sample) => sample.rttMs!));
  }
  if (samples.length > 0) summary.since = samples[0]!.at;
  return summary;
}

/** Mean RTT over every reply of these samples (e.g. the `last` of a summary), weighted by replies. */
export function meanRtt(samples: ProbeSample[]): number | undefined {
  const answered = timed(samples);
  if (answered.length === 0) return undefined;
  return sum(answered, (sample) => sample.rttMs! * sample.replies) / sum(answered, (sample) => sample.replies);
}

const timed = (samples: ProbeSample[]) => samples.filter((sample) => sample.rttMs !== undefined && sample.replies > 0);

/** What a switch the kernel accepted changes in the state: the last switch, the active gateway, the count. */
export function recordSwitch(state: State, change: SwitchRecord): Pick<State, 'lastSwitch' | 'active' | 'totals'> {
  const { incomplete, ...rest } = change;
  const lastSwitch = incomplete?.length ? { ...rest, incomplete } : rest;
  return { lastSwitch, active: change.to, totals: addTotals(state.totals, { switches: 1 }) };
}

export function addTotals(totals: Totals | undefined, add: Partial<Totals>): Totals {
  return { switches: (totals?.switches ?? 0) + (add.switches ?? 0), hookFailures: (totals?.hookFailures ?? 0) + (add.hookFailures ?? 0) };
}

function sum<T>(items: T[], value: (item: T) => number): number {
  return items.reduce((total, item) => total + value(item), 0);
}
