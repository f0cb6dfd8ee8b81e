import { describe, expect, it } from 'vitest';
import type { Gateway } from '../../../src/core/types.js';
import { probeGateway, type Ping } from '../../../src/probe/probe.js';

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
