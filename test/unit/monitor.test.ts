import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ProbeEvent } from '../../src/core/probe-events.js';
import type { Gateway } from '../../src/core/types.js';
import { createLogger } from '../../src/log/logger.js';
import { pathsOf, startMonitor } from '../../src/monitor.js';
import type { SiteProber } from '../../src/probe/site-rounds.js';
import { waitFor } from '../e2e/harness.js';
import { configFixture, type ConfigFixture } from './config/fixture.js';

let fixture: ConfigFixture;

beforeAll(async () => {
  fixture = await configFixture();
});

describe('pathsOf: what the daemon monitor watches', () => {
  it.each([
    [
      'IPv4 only: the gateways by name, as ever',
      'isp1: {ip: 192.0.2.1, priority: 1}\n  lte: {dev: ppp0, priority: 2}',
      undefined,
      ['isp1', 'lte'],
    ],
    [
      'dual stack: every gateway x family path, IPv6 ones keyed name/6',
      'isp1: {ip: 192.0.2.1, ip6: 2001:db8::1, priority: 1}\n  v6: {ip6: fe80::1, dev: wan2, priority: 2}',
      undefined,
      ['isp1', 'isp1/6', 'v6/6'],
    ],
    [
      'one family',
      'isp1: {ip: 192.0.2.1, ip6: 2001:db8::1, priority: 1}\n  v6: {ip6: fe80::1, dev: wan2, priority: 2}',
      6 as const,
      ['isp1/6', 'v6/6'],
    ],
  ])('%s', async (_name, gateways, only, paths) => {
    const { config } = await fixture.load(`gateways:\n  ${gateways}\ncheck_sites: [198.51.100.1, check.example.net]\n`);
    const watched = pathsOf(config, only);
    expect(watched.map((path) => path.name)).toEqual(paths);
    // Each path probes through its gateway's own mark in both families.
    expect(new Set(watched.map((path) => path.probe.mark)).size).toBe(new Set(paths.map((path) => path.split('/')[0])).size);
  });
});

describe('startMonitor: check sites with a method, on a virtual clock', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  /** A stand-in probeSite: answers through the port ranges in `alive` after 20 ms, else fails at its timeout. */
  const standIn =
    (alive: number[]): SiteProber =>
    (_site, path, options) =>
      new Promise((resolve) => {
        const up = alive.includes(path.ports.from);
        const timer = setTimeout(
          () => resolve(up ? { answered: true, rttMs: 20 } : { answered: false, error: 'timeout' }),
          up ? 20 : options.timeoutMs,
        );
        options.signal?.addEventListener('abort', () => clearTimeout(timer));
      });

  it('only method sites: each result is a round; a gateway whose probes fail goes down after `down` of them', async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const { config } = await fixture.load(
      'gateways:\n  isp1: {ip: 192.0.2.1, priority: 1}\n  isp2: {ip: 192.0.2.5, priority: 2}\ncheck_sites:\n  - {tcp: 203.0.113.10:443, interval: 2, timeout: 1}\n',
    );
    // The port ranges H-probes compiles into each probe path (src/config/probe-paths.ts).
    config.gateways = config.gateways.map((gateway, i) => ({
      ...gateway,
      probe: { ...gateway.probe, ports: { from: 61000 + 64 * i, to: 61063 + 64 * i } } as Gateway['probe'],
    }));
    const written: string[] = [];
    const recorded: ProbeEvent[] = [];
    const alive = [61000];
    let decisions = 0;
    const monitor = startMonitor(config, {
      log: createLogger([{ to: { write: (text) => written.push(text) }, level: 'debug', format: 'json' }]),
      clock: Date.now,
      method: 'icmp',
      onDecisionNeeded: () => decisions++,
      record: (event) => recorded.push(event),
      probeSite: standIn(alive),
    });
    monitor.setTargets(config, { 4: [] });
    await vi.advanceTimersByTimeAsync(500);
    // isp1 answered; isp2 is not known before its first results.
    expect(monitor.observations()).toBeUndefined();
    await vi.advanceTimersByTimeAsync(5000);
    const observations = monitor.observations()!;
    expect(observations.isp1).toMatchObject({ up: true, reason: 'up: 1/1 sites, loss 0 %, rtt 20 ms' });
    expect(observations.isp2).toMatchObject({ up: false, reason: 'down: 0/1 sites answered in 3 rounds' });
    expect(observations.isp1!.sites).toEqual([{ site: 'tcp:203.0.113.10:443', answered: true, sent: 3, replies: 3, rttMs: 20 }]);
    expect(decisions).toBeGreaterThan(0);
    // Why isp2's site does not answer: logged once, not once per probe.
    const lines = written
      .map((line) => JSON.parse(line) as { event: string; msg: string })
      .filter((line) => line.event.startsWith('site-'));
    expect(lines.map((line) => line.msg)).toEqual([
      'check site tcp:203.0.113.10:443 does not answer through gateway isp2: timeout (logged once, and again when it answers)',
    ]);
    // It answers again: one line says so.
    alive.push(61064);
    await vi.advanceTimersByTimeAsync(2000);
    const again = written
      .map((line) => JSON.parse(line) as { event: string; msg: string })
      .filter((line) => line.event === 'site-answering');
    expect(again.map((line) => line.msg)).toEqual(['check site tcp:203.0.113.10:443 answers through gateway isp2 again']);
    // The recording has each result as a round of the gateway, keyed by the site's key.
    expect(
      recorded.filter((event) => event.kind === 'round' && event.gateway === 'isp2').map((event) => event.kind === 'round' && event.at),
    ).toEqual([1_001_000, 1_003_000, 1_005_000, 1_006_020]);
    await monitor.stop();
  });
});

describe('startMonitor: method sites beside pings (a fake ping(8) as a real child process)', () => {
  it("a method site's results join the gateway's rounds of echoes, never rounds of their own", async () => {
    const fakePing = fileURLToPath(new URL('probe/fixtures/fake-ping.mjs', import.meta.url));
    const { config } = await fixture.load(
      'gateways:\n  isp1: {ip: 192.0.2.5, priority: 1}\ncheck_sites:\n  - 192.0.2.1\n  - {tcp: 203.0.113.10:443, interval: 0.5}\nprobe: {interval: 0.1}\n',
    );
    config.gateways = config.gateways.map((gateway) => ({
      ...gateway,
      probe: { ...gateway.probe, ports: { from: 61000, to: 61063 } } as Gateway['probe'],
    }));
    const recorded: ProbeEvent[] = [];
    const monitor = startMonitor(config, {
      log: createLogger([]),
      clock: Date.now,
      method: (args) => ({ file: process.execPath, args: [fakePing, ...args] }),
      onDecisionNeeded: () => undefined,
      record: (event) => recorded.push(event),
      probeSite: async () => ({ answered: true, rttMs: 20 }),
    });
    try {
      monitor.setTargets(config, { 4: [{ site: '192.0.2.1', address: '192.0.2.1' }] });
      const rounds = () => recorded.flatMap((event) => (event.kind === 'round' ? [event.echoes.map((echo) => echo.site)] : []));
      // A hang guard, not a timing: two results of the tcp site, each in a round of echoes.
      expect(await waitFor(() => rounds().filter((sites) => sites.includes('tcp:203.0.113.10:443')).length >= 2, 30_000)).toBe(true);
      for (const sites of rounds()) expect(sites[0]).toBe('192.0.2.1');
      const observations = monitor.observations();
      expect(observations?.isp1?.sites?.map((site) => site.site)).toEqual(['192.0.2.1', 'tcp:203.0.113.10:443']);
    } finally {
      await monitor.stop();
    }
  });
});
