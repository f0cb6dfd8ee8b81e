// netgwm in both routers of the HA pair, as issue 14 wants it: `netgwm daemon` keeps each
// router's route right in every role, keepalived's track script is `netgwm health` and its
// notify script (the shipped netgwm-notify) calls `netgwm role STATE`, which commits conntrackd's
// cache on becoming master and runs the hooks there only, with NETGWM_ROLE.
import { afterEach, describe, expect, it } from 'vitest';
import { type HaNetwork, ROUTER_IDS, waitFor } from '../../../scripts/testnet/ha-network.js';
import { HA_TEST_TIMEOUT_MS, streamingPair as startPair, withLogs } from './pair.js';

describe('HA pair with netgwm in both routers', () => {
  let net: HaNetwork | undefined;

  afterEach(async () => {
    await net?.destroy();
    net = undefined;
  });

  it(
    'comes up: both routers route via isp1, `netgwm health` says ok on both, only the master ran the hooks, once, with NETGWM_ROLE=master',
    async () => {
      const pair = await startPair();
      net = pair.net;
      const ha = pair.net;
      for (const id of ROUTER_IDS) {
        const health = await ha.health(id);
        expect(health).toMatchObject({ exitCode: 0 });
        expect(health.stdout).toMatch(/^ok: isp1/);
        expect(await ha.routeVia(ha.router(id))).toBe(ha.router(id).uplinks[0]!.gatewayIp);
      }
      await waitFor('r1 hooks as master', async () => ((await ha.hookCalls(1)).length > 0 ? true : undefined));
      const calls = await ha.hookCalls(1);
      expect(calls).toEqual([{ event: 'role', role: 'master', args: expect.arrayContaining(['isp1']) }]);
      expect(await ha.hookCalls(2)).toEqual([]);
      expect(await ha.roleFile(2)).toBe('backup');
      expect(await ha.roleFile(1)).toBe('master');
    },
    HA_TEST_TIMEOUT_MS,
  );

  it(
    "all of the master's uplinks fail: `netgwm health` fails there and the VIP moves to r2, which runs the hooks as master; the TCP flow survives",
    async () => {
      const pair = await startPair();
      net = pair.net;
      const ha = pair.net;
      await ha.setHealthy(1, false);
      await withLogs(ha, () => ha.waitForMaster(2));
      const health = await ha.health(1);
      expect(health).toMatchObject({ exitCode: 1 });
      expect(health.stdout).toMatch(/^fail:/);
      await waitFor('r2 hooks as master', async () => ((await ha.hookCalls(2)).length > 0 ? true : undefined));
      expect(await ha.hookCalls(2)).toEqual([expect.objectContaining({ event: 'role', role: 'master' })]);
      expect(await pair.client.waitForMoreBytes(50_000)).toMatchObject({ closed: false, resets: 0, errors: [] });
    },
    HA_TEST_TIMEOUT_MS,
  );
});
