import { describe, expect, it } from 'vitest';
import { emptyState } from '../../../src/core/types.js';
import { statusDocument } from '../../../src/report/status-document.js';
import { config, input, NOW } from './fixtures.js';

describe('statusDocument (status --json, schema 1)', () => {
  const doc = statusDocument(input);

  it('the overall fields', () => {
    expect(doc).toMatchObject({
      schema_version: 1,
      generated_at: new Date(NOW).toISOString(),
      has_state: true,
      state_problem: null,
      mode: 'auto',
      mode_source: 'default',
      mode_file: null,
      active: 'isp1',
      all_down_since: null,
      last_cycle: { at: new Date(NOW - 3000).toISOString(), age_s: 3, old: false, duration_ms: 243 },
      last_switch: { age_s: 1100, from: 'isp2', to: 'isp1', reason: 'isp1 is back and stable, up for 15m00s', incomplete: [] },
      totals: { switches: 4, hook_failures: 1 },
      window: { max_probes: 100, max_age_s: 3600 },
    });
  });

  it('the active gateway: stable, fresh, RTT of the last probe and of the window, loss over echoes', () => {
    expect(doc.gateways[0]).toEqual({
      name: 'isp1',
      family: 4,
      priority: 1,
      ip: '192.0.2.1',
      dev: null,
      active: true,
      pinned: false,
      state: 'up',
      health: 'up',
      reason: null,
      since: new Date(NOW - 1_200_000).toISOString(),
      for_s: 1200,
      stable: true,
      stable_in_s: 0,
      checked_at: new Date(NOW - 3000).toISOString(),
      checked_age_s: 3,
      fresh: true,
      sites_answered: 2,
      sites_probed: 2,
      sites: [
        { site: '203.0.113.10', method: 'icmp', answered: true, rtt_ms: 0.31, replies: 2, sent: 2 },
        { site: '203.0.113.20', method: 'icmp', answered: true, rtt_ms: 0.29, replies: 2, sent: 2 },
      ],
      rtt_ms: { last: 0.3, mean: 0.48, max: 0.91 },
      loss: { ratio: 0.125, sent: 8, replies: 7, probes: 4, since: new Date(NOW - 63_000).toISOString() },
      weight: null,
      share: null,
    });
  });

  it('a gateway not probed in the last cycle is not fresh, and whether it is stable is not known', () => {
    // Stable means up in every cycle for min_uptime; a cycle that did not probe it broke the count.
    expect(doc.gateways[1]).toMatchObject({
      name: 'isp2',
      state: 'up',
      health: 'degraded', // up (it may carry traffic), but above its loss threshold
      reason: 'degraded: loss 50 % > 10 % over 30 s',
      stable: false,
      stable_in_s: null,
      fresh: false,
      checked_age_s: 120,
      sites_answered: 1,
      sites_probed: 2,
    });
  });

  it('a gateway never probed is unknown, with nulls rather than zeros', () => {
    expect(doc.gateways[2]).toMatchObject({
      name: 'lte',
      state: 'unknown',
      since: null,
      stable: false,
      stable_in_s: null,
      sites_answered: null,
      rtt_ms: { last: null, mean: null, max: null },
      loss: { ratio: null, sent: 0 },
    });
  });

  it.each(['constructor', 'toString', 'hasOwnProperty'])('a gateway named %s, never probed, is unknown like any other', (name) => {
    const renamed = {
      ...input,
      config: { ...config, gateways: config.gateways.map((gateway) => (gateway.name === 'lte' ? { ...gateway, name } : gateway)) },
    };
    expect(statusDocument(renamed).gateways[2]).toMatchObject({
      name,
      state: 'unknown',
      since: null,
      sites_probed: null,
      loss: { ratio: null, sent: 0 },
    });
  });

  it('marks the pinned gateway, and a last cycle older than 10 minutes', () => {
    const pinned = statusDocument({ ...input, mode: 'isp2', now: NOW + 11 * 60_000 });
    expect(pinned.gateways.map((gateway) => gateway.pinned)).toEqual([false, true, false]);
    expect(pinned.last_cycle?.old).toBe(true);
  });

  it('with no state: every gateway unknown, no cycle, no switch', () => {
    const none = statusDocument({ ...input, state: emptyState(), hasState: false });
    expect(none).toMatchObject({
      has_state: false,
      active: null,
      last_cycle: null,
      last_switch: null,
      totals: { switches: 0, hook_failures: 0 },
    });
    expect(none.gateways.map((gateway) => gateway.state)).toEqual(config.gateways.map(() => 'unknown'));
  });
});

describe('an `ip: auto` gateway', () => {
  it('shows the address the last cycle resolved from the kernel, none before', () => {
    const auto = {
      ...input,
      config: { ...config, gateways: config.gateways.map((g) => (g.name === 'lte' ? { ...g, auto: true as const } : g)) },
    };
    expect(statusDocument(auto).gateways.find((g) => g.name === 'lte')?.ip).toBeNull();
    const resolved = { ...auto, state: { ...auto.state, addresses: { lte: '198.51.100.9' } } };
    expect(statusDocument(resolved).gateways.find((g) => g.name === 'lte')).toMatchObject({ ip: '198.51.100.9', dev: 'ppp0' });
  });
});
