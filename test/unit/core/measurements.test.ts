import { describe, expect, it } from 'vitest';
import { addTotals, meanRtt, recordProbes, recordSwitch, summarizeWindow, WINDOW } from '../../../src/core/measurements.js';
import { emptyState, type GatewayObservation } from '../../../src/core/types.js';

const answered = (site: string, replies: number, sent: number, rttMs?: number) => ({
  site,
  address: site,
  answered: replies > 0,
  replies,
  sent,
  ...(rttMs === undefined ? {} : { rttMs }),
});
const up = (...sites: ReturnType<typeof answered>[]): GatewayObservation => ({ up: sites.some((site) => site.answered), sites });

describe('recordProbes: the rolling window', () => {
  it('adds one sample per probed site, skips unresolved ones, and records the active gateway', () => {
    const observation: GatewayObservation = {
      up: true,
      sites: [answered('198.51.100.1', 2, 2, 1.5), { site: 'x.example', answered: false, skipped: 'no address' }],
    };
    const state = recordProbes(emptyState(), { isp1: observation }, 1000, 'isp1');
    expect(state.samples).toEqual({ isp1: [{ at: 1000, site: '198.51.100.1', sent: 2, replies: 2, rttMs: 1.5 }] });
    expect(state.active).toBe('isp1');
    expect(recordProbes(state, {}, 2000, undefined).active).toBeUndefined();
  });

  it('a gateway with no route counts each site as one lost echo', () => {
    const state = recordProbes(
      emptyState(),
      { isp1: { up: false, error: 'no route', sites: [{ site: 'a', answered: false }] } },
      1,
      'isp1',
    );
    expect(summarizeWindow(state.samples!.isp1).lossRatio).toBe(1);
  });

  it('keeps at most WINDOW.maxSamples per gateway and nothing older than WINDOW.maxAgeMs', () => {
    let state = emptyState();
    for (let cycle = 0; cycle < WINDOW.maxSamples; cycle++)
      state = recordProbes(state, { isp1: up(answered('a', 1, 1, 1), answered('b', 1, 1, 1)) }, cycle, 'isp1');
    expect(state.samples!.isp1).toHaveLength(WINDOW.maxSamples);
    expect(state.samples!.isp1![0]!.at).toBe(WINDOW.maxSamples / 2);
    state = recordProbes(state, { isp2: up(answered('a', 1, 1, 1)) }, WINDOW.maxSamples + WINDOW.maxAgeMs, 'isp2');
    expect(Object.keys(state.samples!)).toEqual(['isp2']); // isp1's samples aged out, the empty list was dropped
  });

  it('does not change the state it was given', () => {
    const before = recordProbes(emptyState(), { isp1: up(answered('a', 1, 1, 1)) }, 1, 'isp1');
    const copy = structuredClone(before);
    recordProbes(before, { isp1: up(answered('a', 0, 1)) }, 2, 'isp1');
    expect(before).toEqual(copy);
  });
});

describe('summarizeWindow', () => {
  it('loss over echoes, mean RTT weighted by replies, max of the probe means, and the newest probe', () => {
    const samples = [
      { at: 1, site: 'a', sent: 4, replies: 4, rttMs: 1 },
      { at: 1, site: 'b', sent: 4, replies: 0 },
      { at: 2, site: 'a', sent: 4, replies: 2, rttMs: 4 },
      { at: 2, site: 'b', sent: 4, replies: 2, rttMs: 7 },
    ];
    const summary = summarizeWindow(samples);
    expect(summary).toMatchObject({ probes: 4, sent: 16, replies: 8, lossRatio: 0.5, rttMaxMs: 7, since: 1 });
    expect(summary.rttMeanMs).toBeCloseTo((4 * 1 + 2 * 4 + 2 * 7) / 8);
    expect(summary.last).toEqual(samples.slice(2));
    expect(meanRtt(summary.last)).toBeCloseTo(5.5);
  });

  it('an empty window has no loss and no RTT', () => {
    expect(summarizeWindow()).toEqual({ probes: 0, sent: 0, replies: 0, last: [] });
  });
});

describe('addTotals', () => {
  it('starts from zero and adds', () => {
    expect(addTotals(undefined, { switches: 1 })).toEqual({ switches: 1, hookFailures: 0 });
    expect(addTotals({ switches: 3, hookFailures: 1 }, { hookFailures: 2 })).toEqual({ switches: 3, hookFailures: 3 });
  });
});

describe('recordSwitch', () => {
  it('records the switch, the active gateway and one more switch; incomplete only when a step failed', () => {
    const state = { ...emptyState(), totals: { switches: 4, hookFailures: 1 } };
    expect(recordSwitch(state, { at: 5, from: 'isp1', to: 'isp2', reason: 'isp1 down', incomplete: [] })).toEqual({
      lastSwitch: { at: 5, from: 'isp1', to: 'isp2', reason: 'isp1 down' },
      active: 'isp2',
      totals: { switches: 5, hookFailures: 1 },
    });
    expect(recordSwitch(emptyState(), { at: 5, to: 'isp2', reason: 'start', incomplete: ['nftables'] }).lastSwitch).toEqual({
      at: 5,
      to: 'isp2',
      reason: 'start',
      incomplete: ['nftables'],
    });
  });
});
