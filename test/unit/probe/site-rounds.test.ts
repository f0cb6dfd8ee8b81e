// The method sites' schedule, on a virtual clock: each site at its own interval, start to start,
// never overlapping itself; results reported with the time they came.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { MethodSite } from '../../../src/core/check-site.js';
import { startSiteRounds, type SiteProber, type SiteTarget } from '../../../src/probe/site-rounds.js';

const TCP: MethodSite = { method: 'tcp', key: 'tcp:203.0.113.10:443', host: '203.0.113.10', port: 443, intervalMs: 5000, timeoutMs: 2000 };
const DNS: MethodSite = {
  method: 'dns',
  key: 'dns:example.org@198.51.100.53/A',
  name: 'example.org',
  server: '198.51.100.53',
  type: 'A',
  intervalMs: 10_000,
  timeoutMs: 2000,
};
const PATH = { family: 4 as const, ports: { from: 61000, to: 61063 } };
const target = (site: MethodSite, gateway = 'isp1'): SiteTarget => ({ gateway, site, path: PATH });

/** A stand-in probe that answers after `delays[key]` ms (or never, until its timeout or abort). */
function standIn(delays: Record<string, number | 'hang'>) {
  const calls: string[] = [];
  const probe: SiteProber = (site, path, options) => {
    calls.push(`${Date.now()} ${site.key} ${path.ports.from}`);
    const delay = delays[site.key] ?? 0;
    return new Promise((resolve) => {
      const timer = setTimeout(
        () => resolve(delay === 'hang' ? { answered: false, error: 'timeout' } : { answered: true, rttMs: delay }),
        delay === 'hang' ? options.timeoutMs : delay,
      );
      options.signal?.addEventListener('abort', () => {
        clearTimeout(timer);
        resolve({ answered: false, error: 'aborted' });
      });
    });
  };
  return { probe, calls };
}

beforeEach(() => {
  vi.useFakeTimers({ now: 0 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('startSiteRounds', () => {
  it('each site at its own interval, start to start; each result with the time it came', async () => {
    const { probe, calls } = standIn({ [TCP.key]: 30, [DNS.key]: 'hang' });
    const results: string[] = [];
    const rounds = startSiteRounds([target(TCP), target(DNS)], { now: Date.now, probe }, (gateway, echo, at) =>
      results.push(`${at} ${gateway} ${echo.site} ${echo.answered} ${echo.rttMs ?? '-'}`),
    );
    await vi.advanceTimersByTimeAsync(11_500);
    await rounds.stop();
    expect(calls.sort()).toEqual([
      '0 dns:example.org@198.51.100.53/A 61000',
      '0 tcp:203.0.113.10:443 61000',
      '10000 dns:example.org@198.51.100.53/A 61000',
      '10000 tcp:203.0.113.10:443 61000',
      '5000 tcp:203.0.113.10:443 61000',
    ]);
    expect(results).toEqual([
      '30 isp1 tcp:203.0.113.10:443 true 30',
      '2000 isp1 dns:example.org@198.51.100.53/A false -',
      '5030 isp1 tcp:203.0.113.10:443 true 30',
      '10030 isp1 tcp:203.0.113.10:443 true 30',
    ]);
  });

  it('a probe slower than its interval is followed at once by the next, never overlapped', async () => {
    const { probe, calls } = standIn({ [TCP.key]: 7000 });
    const rounds = startSiteRounds([target(TCP)], { now: Date.now, probe }, () => undefined);
    await vi.advanceTimersByTimeAsync(14_500);
    await rounds.stop();
    expect(calls.map((call) => call.split(' ')[0])).toEqual(['0', '7000', '14000']);
  });

  it('a probe that throws is a failed probe, and the schedule goes on', async () => {
    const probe: SiteProber = () => {
      throw new Error('not merged yet');
    };
    const results: boolean[] = [];
    const rounds = startSiteRounds([target(TCP)], { now: Date.now, probe }, (_gateway, echo) => results.push(echo.answered));
    await vi.advanceTimersByTimeAsync(5001);
    await rounds.stop();
    expect(results).toEqual([false, false]);
  });

  it('setTargets keeps an unchanged target on its schedule, starts a new one, ends a removed one (its result is not reported)', async () => {
    const { probe, calls } = standIn({ [DNS.key]: 'hang' });
    const results: string[] = [];
    const rounds = startSiteRounds([target(TCP), target(DNS)], { now: Date.now, probe }, (gateway, echo) =>
      results.push(`${gateway} ${echo.site}`),
    );
    await vi.advanceTimersByTimeAsync(1000);
    rounds.setTargets([target(TCP), target(TCP, 'isp2')]);
    await vi.advanceTimersByTimeAsync(4500);
    await rounds.stop();
    expect(calls.map((call) => call.split(' ').slice(0, 2).join(' '))).toEqual([
      `0 ${TCP.key}`,
      `0 ${DNS.key}`,
      `1000 ${TCP.key}`, // isp2's
      `5000 ${TCP.key}`, // isp1's, on its schedule
    ]);
    expect(results).toEqual([`isp1 ${TCP.key}`, `isp2 ${TCP.key}`, `isp1 ${TCP.key}`]);
  });

  it('probeNow probes a gateway at once (its link came back); stop aborts what runs', async () => {
    const { probe, calls } = standIn({ [TCP.key]: 10 });
    const results: string[] = [];
    const rounds = startSiteRounds([target(TCP), target(TCP, 'isp2')], { now: Date.now, probe }, (gateway) => results.push(gateway));
    await vi.advanceTimersByTimeAsync(1000);
    rounds.probeNow('isp2');
    await vi.advanceTimersByTimeAsync(5);
    await rounds.stop();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(calls.map((call) => call.split(' ')[0])).toEqual(['0', '0', '1000']);
    expect(results).toEqual(['isp1', 'isp2']);
  });
});
