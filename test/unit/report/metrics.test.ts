import { describe, expect, it } from 'vitest';
import { renderMetrics } from '../../../src/report/metrics.js';
import { statusDocument } from '../../../src/report/status-document.js';
import { input, NOW } from './fixtures.js';

describe('renderMetrics', () => {
  it('per-gateway gauges with a gateway label; never-probed gateways have no up/RTT/loss series', async () => {
    const text = await renderMetrics(statusDocument(input));
    for (const line of [
      '# TYPE netgwm_gateway_up gauge',
      'netgwm_gateway_up{gateway="isp1",family="4"} 1',
      'netgwm_gateway_up{gateway="isp2",family="4"} 1',
      'netgwm_gateway_active{gateway="isp1",family="4"} 1',
      'netgwm_gateway_active{gateway="lte",family="4"} 0',
      'netgwm_gateway_stable{gateway="isp2",family="4"} 0',
      'netgwm_gateway_priority{gateway="lte",family="4"} 3',
      'netgwm_gateway_state_seconds{gateway="isp1",family="4"} 1200',
      `netgwm_gateway_last_check_timestamp_seconds{gateway="isp1",family="4"} ${(NOW - 3000) / 1000}`,
      'netgwm_gateway_rtt_seconds{gateway="isp1",family="4"} 0.0003',
      'netgwm_gateway_rtt_max_seconds{gateway="isp1",family="4"} 0.00091',
      'netgwm_gateway_loss_ratio{gateway="isp1",family="4"} 0.125',
      'netgwm_gateway_loss_ratio{gateway="isp2",family="4"} 0.5',
      'netgwm_gateway_window_echoes{gateway="isp1",family="4"} 8',
    ]) {
      expect(text.split('\n')).toContain(line);
    }
    expect(text).not.toMatch(/netgwm_gateway_(up|rtt_seconds|loss_ratio)\{gateway="lte"/);
  });

  it('per site of the last probe: answered and RTT, labelled with the site key and its method', async () => {
    const samples = input.state!.samples!;
    const last = samples.isp1!.at(-1)!;
    const withMethods = {
      ...input,
      state: {
        ...input.state!,
        samples: {
          ...samples,
          isp1: [
            ...samples.isp1!,
            { at: last.at, site: 'tcp:203.0.113.30:443', sent: 1, replies: 1, rttMs: 4 },
            { at: last.at, site: 'http://check.example.net/"quoted"', sent: 1, replies: 0 },
          ],
        },
      },
    };
    const lines = (await renderMetrics(statusDocument(withMethods))).split('\n');
    for (const line of [
      '# TYPE netgwm_site_answered gauge',
      'netgwm_site_answered{gateway="isp1",family="4",site="203.0.113.10",method="icmp"} 1',
      'netgwm_site_answered{gateway="isp1",family="4",site="tcp:203.0.113.30:443",method="tcp"} 1',
      'netgwm_site_answered{gateway="isp1",family="4",site="http://check.example.net/\\"quoted\\"",method="http"} 0',
      'netgwm_site_rtt_seconds{gateway="isp1",family="4",site="tcp:203.0.113.30:443",method="tcp"} 0.004',
    ]) {
      expect(lines).toContain(line);
    }
    expect(lines.some((line) => line.startsWith('netgwm_site_rtt_seconds{gateway="isp1",family="4",site="http:'))).toBe(false);
  });

  it('totals from the state are counters; the cycle and all-down are gauges', async () => {
    const text = await renderMetrics(statusDocument(input));
    for (const line of [
      '# TYPE netgwm_switches_total counter',
      'netgwm_switches_total{family="4"} 4',
      '# TYPE netgwm_hook_failures_total counter',
      'netgwm_hook_failures_total{family="4"} 1',
      'netgwm_all_down{family="4"} 0',
      'netgwm_last_cycle_duration_seconds{family="4"} 0.243',
      `netgwm_last_cycle_timestamp_seconds{family="4"} ${(NOW - 3000) / 1000}`,
    ]) {
      expect(text.split('\n')).toContain(line);
    }
  });

  it('escapes nothing it should not: every line is HELP, TYPE, a sample or empty', async () => {
    const text = await renderMetrics(statusDocument(input));
    for (const line of text.split('\n'))
      expect(line).toMatch(
        /^(# HELP netgwm_\w+ .+|# TYPE netgwm_\w+ (gauge|counter)|netgwm_\w+(\{(gateway="[\w.-]+",?)?(family="[46]")?(,site="[\w.:]+",method="icmp")?\})? [\d.e+-]+|)$/,
      );
  });
});
