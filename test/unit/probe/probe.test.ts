import { describe, expect, it } from 'vitest';
import type { MethodSite } from '../../../src/core/check-site.js';
import type { Gateway } from '../../../src/core/types.js';
import { describeObservation } from '../../../src/log/events.js';
import { probeGateway, type Ping } from '../../../src/probe/probe.js';
import type { SiteProber } from '../../../src/probe/site-rounds.js';
import { generate204Site } from '../../support/sites.js';

const gateway: Gateway = {
  name: 'isp1',
  ip: '192.0.2.1',
  priority: 1,
  probe: { mark: 0x4e470001, table: 195, ports: { from: 61000, to: 61063 } },
};
const SITES = ['198.51.100.1', '198.51.100.2', '198.51.100.3'];

/** A ping that answers for the addresses given, through any mark. */
const answering =
  (alive: string[]): Ping =>
  async (address, options) => {
    const answered = alive.includes(address);
    return { address, answered, replies: answered ? options.count : 0, sent: options.count, ...(answered ? { rttMs: 1 } : {}) };
  };

describe('probeGateway (one-shot run)', () => {
  it.each([
    { case: 'NetGWM: any site answering is up', alive: [SITES[2]!], minSites: undefined, up: true },
    { case: 'no site answering is down', alive: [], minSites: undefined, up: false },
    { case: 'min_sites 2: one site is not enough', alive: [SITES[0]!], minSites: 2, up: false },
    { case: 'min_sites 2: two sites are', alive: [SITES[0]!, SITES[1]!], minSites: 2, up: true },
  ])('$case', async ({ alive, minSites, up }) => {
    const targets = SITES.map((site) => ({ site, address: site }));
    const observation = await probeGateway(answering(alive), gateway, targets, { count: 2, timeoutMs: 500, minSites });
    expect(observation.up).toBe(up);
    expect(observation.sites.filter((site) => site.answered).map((site) => site.site)).toEqual(alive);
  });

  it('min_sites counts only the sites that could be probed (a name that did not resolve fails no gateway)', async () => {
    const targets = [
      { site: SITES[0]!, address: SITES[0]! },
      { site: 'check.example.net', skipped: 'did not resolve' },
    ];
    const observation = await probeGateway(answering([SITES[0]!]), gateway, targets, { count: 2, timeoutMs: 500, minSites: 2 });
    expect(observation.up).toBe(true);
  });
});

describe('probeGateway: check sites with a method (one-shot run)', () => {
  const TCP: MethodSite = {
    method: 'tcp',
    key: 'tcp:203.0.113.10:443',
    host: '203.0.113.10',
    port: 443,
    intervalMs: 5000,
    timeoutMs: 2000,
  };
  const HTTP: MethodSite = generate204Site({ timeoutMs: 3000 });
  const ported: Gateway = { ...gateway, probe: { ...gateway.probe, ports: { from: 61000, to: 61063 } } as Gateway['probe'] };
  /** A stand-in probeSite answering the keys given; records what it was asked. */
  const standIn = (alive: string[], asked: string[]): SiteProber => {
    return async (site, path, options) => {
      asked.push(`${site.key} ${path.family} ${path.ports.from}-${path.ports.to} ${options.timeoutMs}`);
      return alive.includes(site.key) ? { answered: true, rttMs: 12 } : { answered: false, error: 'HTTP 500, expected 204' };
    };
  };

  it.each([
    { case: 'ICMP dead, tcp answering: up (any site)', pings: [], methods: [TCP.key], minSites: 1, up: true },
    { case: 'every site dead: down', pings: [], methods: [], minSites: 1, up: false },
    { case: 'min_sites 2: a ping and the tcp site', pings: [SITES[0]!], methods: [TCP.key], minSites: 2, up: true },
    { case: 'min_sites 3: http failing is one too few', pings: [SITES[0]!], methods: [TCP.key], minSites: 3, up: false },
  ])('$case', async ({ pings, methods, minSites, up }) => {
    const asked: string[] = [];
    const targets = [{ site: SITES[0]!, address: SITES[0]! }];
    const observation = await probeGateway(answering(pings), ported, targets, {
      count: 2,
      timeoutMs: 500,
      minSites,
      methods: { sites: [TCP, HTTP], probe: standIn(methods, asked), family: 4 },
    });
    expect(observation.up).toBe(up);
    expect(observation.sites.map((site) => [site.site, site.answered])).toEqual([
      [SITES[0], pings.length > 0],
      [TCP.key, methods.includes(TCP.key)],
      [HTTP.key, false],
    ]);
    // Why a method site did not answer is kept, for the log line.
    expect(observation.sites[2]).toEqual({ site: HTTP.key, answered: false, replies: 0, sent: 1, error: 'HTTP 500, expected 204' });
    if (!up) expect(describeObservation(observation)).toContain(`${HTTP.key} HTTP 500, expected 204`);
    // Each site once, through the gateway's port range, with its own timeout.
    expect(asked).toEqual([`${TCP.key} 4 61000-61063 2000`, `${HTTP.key} 4 61000-61063 3000`]);
  });

  it('the method site of an answered probe has its latency; a gateway the kernel cannot route to is down with every site', async () => {
    const methods = { sites: [TCP], probe: standIn([TCP.key], []), family: 4 as const };
    const observation = await probeGateway(answering([]), ported, [], { count: 2, timeoutMs: 500, methods });
    expect(observation.sites).toEqual([{ site: TCP.key, answered: true, rttMs: 12, replies: 1, sent: 1 }]);
    const unreachable = await probeGateway(answering([]), ported, [], { count: 2, timeoutMs: 500, methods }, 'link eth1 is down');
    expect(unreachable).toEqual({ up: false, sites: [{ site: TCP.key, answered: false }], error: 'link eth1 is down' });
  });

  it('a gateway without a port range skips its method sites (they count neither way)', async () => {
    const methods = { sites: [TCP], probe: standIn([TCP.key], []), family: 4 as const };
    const portless: Gateway = { ...gateway, probe: { mark: gateway.probe.mark, table: gateway.probe.table } as Gateway['probe'] };
    const observation = await probeGateway(answering([SITES[0]!]), portless, [{ site: SITES[0]!, address: SITES[0]! }], {
      count: 2,
      timeoutMs: 500,
      minSites: 2,
      methods,
    });
    expect(observation.up).toBe(true);
    expect(observation.sites[1]).toEqual({ site: TCP.key, answered: false, skipped: 'no probe port range' });
  });
});
