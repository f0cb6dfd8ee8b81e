// The probe keys of continuous monitoring: defaults, what they compile to, and every refusal.
import { beforeAll, describe, expect, it } from 'vitest';
import { healthSettings, MAX_WINDOW_ROUNDS } from '../../../src/config/health.js';
import { MAX_ROUNDS } from '../../../src/core/health.js';
import { monitoringGraceMs } from '../../../src/core/monitoring.js';
import { configFixture, type ConfigFixture } from './fixture.js';

let fixture: ConfigFixture;

beforeAll(async () => {
  fixture = await configFixture();
});

const GOOD = `gateways: {isp1: {ip: 192.0.2.1, priority: 1}}\ncheck_sites: [198.51.100.1, 198.51.100.2]\n`;
const load = async (probe: string) => (await fixture.load(`${GOOD}probe: ${probe}\n`)).config;
const problems = (probe: string) => fixture.problems(`${GOOD}probe: ${probe}\n`);

describe('health settings', () => {
  it('compiles the defaults to milliseconds, latency not judged', async () => {
    expect(healthSettings(await load('{}'))).toEqual({
      intervalMs: 150,
      timeoutMs: 500,
      down: 3,
      up: 10,
      minSites: 1,
      windowMs: 30_000,
      lossDownPct: 30,
      lossUpPct: 10,
    });
  });

  it('with method sites: how long their results are carried (twice the longest interval + timeout) and their longest timeout', async () => {
    const { config } = await fixture.load(
      'gateways: {isp1: {ip: 192.0.2.1, priority: 1}}\ncheck_sites:\n  - 198.51.100.1\n  - {tcp: 203.0.113.10:443}\n  - {dns: example.org, server: 198.51.100.53, interval: 20, timeout: 3}\n',
    );
    expect(healthSettings(config)).toMatchObject({ carryMs: 2 * (20_000 + 3000), methodTimeoutMs: 3000 });
    expect(monitoringGraceMs(healthSettings(config))).toBe(3 * 150 + 3000 + 1000);
    expect(healthSettings(await load('{}'))).not.toHaveProperty('carryMs');
  });

  it('takes every key', async () => {
    const config = await load(
      '{interval: 0.25, timeout: 0.8, down: 4, up: 20, min_sites: 2, window: 60, loss_down: 25, loss_up: 5, latency_down: 300, latency_up: 150}',
    );
    expect(healthSettings(config)).toEqual({
      intervalMs: 250,
      timeoutMs: 800,
      down: 4,
      up: 20,
      minSites: 2,
      windowMs: 60_000,
      lossDownPct: 25,
      lossUpPct: 5,
      latencyDownMs: 300,
      latencyUpMs: 150,
    });
  });

  it('refuses thresholds that do not fit together, saying what to do', async () => {
    expect(await problems('{min_sites: 3, loss_down: 10, loss_up: 20, latency_down: 100, latency_up: 200}')).toEqual([
      'FILE: probe.min_sites: expected at most the number of check_sites (2), got 3; no round could ever be good',
      'FILE: probe.loss_up: expected at most probe.loss_down (10), got 20; a gateway must come back up at a loss it would not go down at',
      'FILE: probe.latency_up: expected at most probe.latency_down (100), got 200; a gateway must come back up at an RTT it would not go down at',
    ]);
    expect(await problems('{latency_down: 300}')).toEqual([
      'FILE: probe.latency_up: missing; probe.latency_down needs it (e.g. latency_down: 300 with latency_up: 150), or remove probe.latency_down to leave latency unjudged',
    ]);
    expect(await problems('{latency_up: 150}')).toEqual([
      'FILE: probe.latency_down: missing; probe.latency_up needs it (e.g. latency_down: 300 with latency_up: 150), or remove probe.latency_up to leave latency unjudged',
    ]);
    expect(await problems('{interval: 0.05, window: 3600}')).toEqual([
      'FILE: probe.window: 3600 s holds 72000 rounds at probe.interval 0.05 s; expected at most 3000: shorten the window or raise the interval',
    ]);
  });

  it.each([
    ['interval', '0.01', /^FILE: probe\.interval: .*>=0\.05, got 0\.01$/],
    ['down', '0', /^FILE: probe\.down: .*>=1, got 0$/],
    ['up', '1.5', /^FILE: probe\.up: expected int.*, got 1\.5$/],
    ['loss_down', '0', /^FILE: probe\.loss_down: .*>0, got 0$/],
    ['loss_up', '101', /^FILE: probe\.loss_up: .*<=100, got 101$/],
    ['latency_down', '-5', /^FILE: probe\.latency_down: .*>0, got -5$/],
    ['window', '0.5', /^FILE: probe\.window: .*>=1, got 0\.5$/],
  ])('refuses probe.%s: %s', async (key, value, message) => {
    expect(await problems(`{${key}: ${value}}`)).toEqual([expect.stringMatching(message)]);
  });

  it('lets the state machine keep every round a window may hold, plus the late ones', () => {
    const lateRounds = 30 / 0.05; // the longest timeout over the shortest interval
    expect(MAX_WINDOW_ROUNDS + lateRounds + 1).toBeLessThan(MAX_ROUNDS);
  });
});
