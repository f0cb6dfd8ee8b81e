// Balanced tiers and rules in `status` (JSON and table) and in the metrics.
import { describe, expect, it } from 'vitest';
import { renderMetrics } from '../../../src/report/metrics.js';
import { statusDocument } from '../../../src/report/status-document.js';
import { statusTable } from '../../../src/report/status-table.js';
import { config, input, state } from './fixtures.js';

const balanced = {
  ...input,
  config: {
    ...config,
    gateways: [{ ...config.gateways[0]!, weight: 3 }, { ...config.gateways[1]!, priority: 1, weight: 1 }, config.gateways[2]!],
    rules: [{ use: ['lte', 'isp2'] }, { use: { tier: 1 } }, { use: 'default' }],
  },
  state: { ...state, balance: { tiers: { '1': ['isp1'] }, rules: ['lte', null, null], used: ['isp1', 'lte'] } },
};

describe('tiers and rules in status and metrics', () => {
  const doc = statusDocument(balanced);

  it('status --json: each tier with its members, weights and shares; the rules and their gateway', () => {
    expect(doc.tiers).toEqual([
      {
        priority: 1,
        default: true,
        members: [
          { name: 'isp1', weight: 3, share: 1, in_share: true, state: 'up' },
          { name: 'isp2', weight: 1, share: 0, in_share: false, state: 'up' },
        ],
      },
    ]);
    expect(doc.gateways.map((g) => [g.name, g.weight, g.share])).toEqual([
      ['isp1', 3, 1],
      ['isp2', 1, 0],
      ['lte', null, null],
    ]);
    expect(doc.rules).toEqual([
      { rule: 1, use: 'lte, isp2', gateway: 'lte' },
      { rule: 2, use: 'tier 1', gateway: null },
      { rule: 3, use: 'default', gateway: null },
    ]);
    expect(statusDocument(input)).toMatchObject({ tiers: [], rules: [] });
  });

  it('status: a line per tier and per rule under the gateways', () => {
    const both = statusDocument({
      ...balanced,
      state: { ...balanced.state, balance: { ...balanced.state.balance, tiers: { '1': ['isp1', 'isp2'] } } },
    });
    const lines = statusTable(both, false).split('\n');
    expect(lines).toContain('Tier 1 (default): isp1 75 % up, isp2 25 % up');
    expect(statusTable(doc, false).split('\n')).toContain('Tier 1 (default): isp1 100 % up, isp2 out (up)');
    expect(lines).toEqual(expect.arrayContaining(['Rule 1 (lte, isp2): lte', 'Rule 2 (tier 1): tier 1', 'Rule 3 (default): default']));
  });

  it('metrics: weight and share per member, connections per mark when counted', async () => {
    const text = (await renderMetrics(doc, { isp1: 12, isp2: 0, lte: 3 })).split('\n');
    expect(text).toEqual(
      expect.arrayContaining([
        'netgwm_gateway_weight{gateway="isp1",family="4"} 3',
        'netgwm_gateway_weight{gateway="isp2",family="4"} 1',
        'netgwm_gateway_share_ratio{gateway="isp1",family="4"} 1',
        'netgwm_gateway_share_ratio{gateway="isp2",family="4"} 0',
        'netgwm_gateway_connections{gateway="isp1"} 12',
        'netgwm_gateway_connections{gateway="lte"} 3',
      ]),
    );
    expect(text.filter((line) => line.startsWith('netgwm_gateway_weight{gateway="lte"'))).toEqual([]);
    expect((await renderMetrics(doc)).includes('netgwm_gateway_connections')).toBe(false);
  });
});
