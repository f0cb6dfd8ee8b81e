// The fields added for status and metrics: old state files still load, new ones round-trip.
import { describe, expect, it } from 'vitest';
import type { State } from '../../../src/core/types.js';
import { parseState } from '../../../src/state/store.js';

describe('state file: status and metrics fields', () => {
  it('a state file written before them loads, without them', () => {
    const old = { version: 1, lastCycleAt: 5, gateways: { isp1: { up: true, since: 1, checkedAt: 5 } }, resolved: {} };
    expect(parseState(JSON.stringify(old))).toEqual({ state: old });
  });

  it('round-trips the window, the active gateway, the totals and the cycle time', () => {
    const state: State = {
      version: 1,
      gateways: {},
      resolved: {},
      active: 'isp1',
      samples: {
        isp1: [
          { at: 5, site: '198.51.100.1', sent: 2, replies: 1, rttMs: 0.42 },
          { at: 5, site: '198.51.100.2', sent: 2, replies: 0 },
        ],
      },
      totals: { switches: 3, hookFailures: 1 },
      lastCycleMs: 240,
    };
    expect(parseState(JSON.stringify(state))).toEqual({ state });
  });

  it('a bad sample makes the file unusable, as any other bad field does', () => {
    const bad = { version: 1, gateways: {}, resolved: {}, samples: { isp1: [{ at: 5, site: 'a', sent: -1, replies: 0 }] } };
    expect(parseState(JSON.stringify(bad)).problem).toMatch(/^samples\.isp1\.0\.sent: /);
  });
});
