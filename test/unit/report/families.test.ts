// Status, status files and metrics of a dual-stack config: a row per gateway and family, the
// IPv6 decision in `ipv6`, series labelled by family.
import { describe, expect, it } from 'vitest';
import { renderMetrics } from '../../../src/report/metrics.js';
import { statusDocument } from '../../../src/report/status-document.js';
import { statusTable } from '../../../src/report/status-table.js';
import type { State } from '../../../src/core/types.js';
import { input, NOW } from './fixtures.js';

const s = (seconds: number) => NOW - seconds * 1000;

const state6: State = {
  version: 1,
  lastCycleAt: s(3),
  lastCycleMs: 12,
  active: 'isp2',
  gateways: {
    isp1: { up: false, since: s(40), checkedAt: s(3), reason: 'down: 0/1 sites answered in 3 rounds' },
    isp2: { up: true, since: s(1000), checkedAt: s(3) },
  },
  lastSwitch: { at: s(40), from: 'isp1', to: 'isp2', reason: 'isp1 down, 0/1 sites answered' },
  totals: { switches: 1, hookFailures: 0 },
  resolved: {},
};

const dual = {
  ...input,
  ipv6: {
    state: state6,
    stateFile: '/var/lib/netgwm/state-ipv6.json',
    hasState: true,
    mode: 'auto',
    gateways: [
      { name: 'isp1', ip: '2001:db8:0:1::1', priority: 1 },
      { name: 'isp2', ip: 'fe80::1', dev: 'eth2', priority: 2 },
    ],
  },
};

describe('a dual-stack status', () => {
  const doc = statusDocument(dual);

  it('has a row per gateway and family, IPv4 first', () => {
    expect(doc.families).toEqual([4, 6]);
    expect(doc.gateways.map((row) => [row.name, row.family, row.ip, row.state, row.active])).toEqual([
      ['isp1', 4, '192.0.2.1', 'up', true],
      ['isp2', 4, '198.51.100.1', 'up', false],
      ['lte', 4, null, 'unknown', false],
      ['isp1', 6, '2001:db8:0:1::1', 'down', false],
      ['isp2', 6, 'fe80::1', 'up', true],
    ]);
  });

  it('keeps the IPv4 decision where it was and adds the IPv6 one', () => {
    expect(doc.active).toBe('isp1');
    expect(doc.totals).toEqual({ switches: 4, hook_failures: 1 });
    expect(doc.ipv6).toMatchObject({
      state_file: '/var/lib/netgwm/state-ipv6.json',
      has_state: true,
      mode: 'auto',
      active: 'isp2',
      last_switch: { from: 'isp1', to: 'isp2', reason: 'isp1 down, 0/1 sites answered' },
      totals: { switches: 1, hook_failures: 0 },
    });
  });

  it('has no ipv6 object and only IPv4 rows without IPv6 gateways', () => {
    const only4 = statusDocument(input);
    expect(only4.ipv6).toBeNull();
    expect(only4.families).toEqual([4]);
    expect(only4.gateways.every((row) => row.family === 4)).toBe(true);
  });

  it('labels every series with its family', async () => {
    const lines = (await renderMetrics(doc)).split('\n');
    expect(lines).toEqual(
      expect.arrayContaining([
        'netgwm_gateway_up{gateway="isp1",family="4"} 1',
        'netgwm_gateway_up{gateway="isp1",family="6"} 0',
        'netgwm_gateway_active{gateway="isp2",family="6"} 1',
        'netgwm_switches_total{family="4"} 4',
        'netgwm_switches_total{family="6"} 1',
        'netgwm_all_down{family="6"} 0',
      ]),
    );
  });

  it('shows the IPv6 decision and a family column in the table', () => {
    const lines = statusTable(doc, false).split('\n');
    expect(lines).toContain('IPv6 active: isp2   Mode: auto');
    expect(
      lines.some((line) => line.startsWith('IPv6 last switch: ') && line.endsWith('isp1 -> isp2: isp1 down, 0/1 sites answered')),
    ).toBe(true);
    const header = lines.find((line) => line.includes('GATEWAY'))!;
    expect(header.split(/\s+/).slice(1, 4)).toEqual(['GATEWAY', 'IP', 'PRIO']);
    expect(lines.filter((line) => / v6 /.test(line))).toHaveLength(2);
  });

  it('shows an IPv4 config without the family column', () => {
    const header = statusTable(statusDocument(input), false)
      .split('\n')
      .find((line) => line.includes('GATEWAY'))!;
    expect(header).not.toContain(' IP ');
  });
});
