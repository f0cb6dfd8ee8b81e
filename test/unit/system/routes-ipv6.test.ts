import { describe, expect, it } from 'vitest';
import type { Gateway } from '../../../src/core/types.js';
import {
  defaultRouteArgs,
  IPV6_DEFAULT_METRIC,
  matchGateway,
  ownDefaultRoute,
  parseDefaultRoutes,
  putDefaultRouteFirst,
  readDefaultRoutes,
  replaceDefaultRoute,
} from '../../../src/system/routes.js';
import { fakeExec } from './fake-exec.js';

const ISP1: Gateway = {
  name: 'isp1',
  ip: '2001:db8:0:1::1',
  priority: 1,
  probe: { mark: 0x4e470001, table: 195, ports: { from: 61000, to: 61063 } },
  family: 6,
};
const LINK_LOCAL: Gateway = {
  name: 'isp2',
  ip: 'fe80::1',
  dev: 'wan-2',
  priority: 2,
  probe: { mark: 0x4e470002, table: 196, ports: { from: 61064, to: 61127 } },
  family: 6,
};

// `ip -j -6 route show table main default` with netgwm's route via isp1 and an RA default.
const OURS = { dst: 'default', gateway: '2001:db8:0:1::1', dev: 'wan_1', protocol: 'netgwm', metric: 512, flags: [], pref: 'medium' };
const RA = { dst: 'default', gateway: 'fe80::1', dev: 'wan-2', protocol: 'ra', metric: 1024, flags: [], expires: 1790, pref: 'medium' };

describe('IPv6 default routes', () => {
  it('netgwm writes its IPv6 default at IPV6_DEFAULT_METRIC (below RA 1024), in the main table only', () => {
    expect(IPV6_DEFAULT_METRIC).toBeLessThan(1024);
    const words = (argv: string[]) => argv.join(' ');
    expect(words(defaultRouteArgs(ISP1))).toBe('route replace default via 2001:db8:0:1::1 proto 194 metric 512');
    expect(words(defaultRouteArgs(LINK_LOCAL))).toBe('route replace default via fe80::1 dev wan-2 proto 194 metric 512');
    expect(words(defaultRouteArgs(LINK_LOCAL, 300, 'add'))).toBe('route add default via fe80::1 dev wan-2 proto 194 table 300');
  });

  it('an RA default behind netgwm route is no winner; one alone matches a link-local gateway on its dev', () => {
    const routes = parseDefaultRoutes(JSON.stringify([RA, OURS]));
    expect(ownDefaultRoute(routes, [ISP1, LINK_LOCAL])).toEqual({ route: routes[0] });
    expect(matchGateway(routes[0], [ISP1, LINK_LOCAL])?.name).toBe('isp1');
    expect(matchGateway(routes[1], [ISP1, LINK_LOCAL])?.name).toBe('isp2');
    expect(matchGateway({ ...routes[1]!, dev: 'wan_1' }, [LINK_LOCAL])).toBeUndefined();
  });

  it('readDefaultRoutes(exec, 6) and replaceDefaultRoute of a family-6 gateway use ip -6', async () => {
    const exec = fakeExec((argv) => (argv.includes('show') ? { stdout: JSON.stringify([OURS, RA]) } : undefined));
    expect((await readDefaultRoutes(exec, 6))[0]).toMatchObject({ gateway: '2001:db8:0:1::1', metric: 512 });
    expect(await replaceDefaultRoute(exec, ISP1)).toMatchObject({ gateway: '2001:db8:0:1::1', dev: 'wan_1' });
    expect(exec.calls.map((call) => call.argv.join(' '))).toEqual([
      'ip -j -6 route show table main default',
      'ip -6 route replace default via 2001:db8:0:1::1 proto 194 metric 512',
      'ip -j -6 route show table main default',
    ]);
  });

  it('putDefaultRouteFirst deletes a foreign IPv6 winner at or below netgwm metric, then replaces', async () => {
    const foreign = { dst: 'default', gateway: '2001:db8:0:3::1', dev: 'wan.3', metric: 100, flags: [] };
    let routes = [foreign, OURS];
    const exec = fakeExec((argv) => {
      if (argv.includes('show')) return { stdout: JSON.stringify(routes) };
      if (argv.includes('del')) routes = [OURS];
      return undefined;
    });
    const [winner] = parseDefaultRoutes(JSON.stringify([foreign]));
    expect(await putDefaultRouteFirst(exec, ISP1, winner!)).toMatchObject({ gateway: '2001:db8:0:1::1' });
    expect(exec.calls.map((call) => call.argv.join(' '))).toEqual([
      'ip -6 route del default via 2001:db8:0:3::1 dev wan.3 metric 100',
      'ip -6 route replace default via 2001:db8:0:1::1 proto 194 metric 512',
      'ip -j -6 route show table main default',
    ]);
  });
});
