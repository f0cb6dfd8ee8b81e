// netgwm in both routers of the HA pair, as issue 14 wants it: `netgwm daemon` keeps each
// router's route right in every role, keepalived's track script is `netgwm health` and its
// notify FIFO's reader (the shipped netgwm-notify) calls `netgwm role STATE`, which commits conntrackd's
// cache on becoming master and runs the hooks there only, with NETGWM_ROLE.
import { afterEach, describe, expect, it } from 'vitest';
import { type HaNetwork, ROUTER_IDS, waitFor } from '../../../scripts/testnet/ha-network.js';
import { HA_TEST_TIMEOUT_MS, streamingPair as startPair, waitForSettledPair, withLogs } from './pair.js';

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
    'a cluster-wide change (operator 1 fails for both routers, then comes back): both routers move their own routes, the hooks run once per change, on the master only, with NETGWM_ROLE=master',
    async () => {
      const pair = await startPair();
      net = pair.net;
      const ha = pair.net;
      await waitFor('r1 hooks as master', async () => ((await ha.hookCalls(1)).length > 0 ? true : undefined));
      const uplink = (id: 1 | 2, i: number) => ha.router(id).uplinks[i - 1]!.gatewayIp;
      const bothRouteVia = (i: number) => async () =>
        (await ha.routeVia(ha.router(1))) === uplink(1, i) && (await ha.routeVia(ha.router(2))) === uplink(2, i) ? true : undefined;

      for (const id of ROUTER_IDS) await ha.setUplinkFailed(id, 1, true);
      await withLogs(ha, () => waitFor('both routers to route via isp2', bothRouteVia(2)));
      await withLogs(ha, () => waitFor('r1 switch hooks', async () => ((await ha.hookCalls(1)).length >= 2 ? true : undefined)));

      for (const id of ROUTER_IDS) await ha.setUplinkFailed(id, 1, false);
      // Back after min_uptime (5 s in the lab).
      await withLogs(ha, () => waitFor('both routers back on isp1', bothRouteVia(1)));
      await withLogs(ha, () => waitFor('r1 failback hooks', async () => ((await ha.hookCalls(1)).length >= 3 ? true : undefined)));

      const calls = await ha.hookCalls(1);
      expect(calls.map(({ event, role, args }) => [event, role, args[0], args[3]])).toEqual([
        ['role', 'master', 'isp1', expect.anything()],
        ['switch', 'master', 'isp2', 'isp1'],
        ['switch', 'master', 'isp1', 'isp2'],
      ]);
      // The backup moved its own route both times (checked above) and ran no hook.
      expect(await ha.hookCalls(2)).toEqual([]);
      expect(await pair.client.waitForMoreBytes(20_000)).toMatchObject({ closed: false, resets: 0, errors: [] });
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

  it(
    'keepalived reloads (SIGHUP): the old notify script ends by itself when keepalived closes the FIFO (it logs its end; a copy killed by keepalived would not), one new script reads the new FIFO, and the next takeover reaches netgwm through it',
    async () => {
      const pair = await startPair();
      net = pair.net;
      const ha = pair.net;
      const before = ha.notifyScripts(1);
      expect(before).toHaveLength(1);
      expect(ha.notifyFifoReaders(1)).toEqual(before);
      await ha.reloadKeepalived(1);
      // keepalived closes the old FIFO right after its SIGTERM and kills the script's process group
      // a second later; the script, idle in `read`, sees the end of the FIFO at once and logs it.
      const ended = new RegExp(`netgwm-notify: keepalived closed \\S+ \\(a reload starts a new copy\\): ending \\(PID ${before[0]}\\)$`);
      await withLogs(ha, () =>
        waitFor("the old notify script's end in its log", async () =>
          (await ha.notifyScriptLog(1)).some((line) => ended.test(line)) ? true : undefined,
        ),
      );
      await withLogs(ha, () =>
        waitFor('r1 to run one notify script, a new one, reading the new FIFO', async () => {
          const now = ha.notifyScripts(1);
          return now.length === 1 && now[0] !== before[0] && ha.notifyFifoReaders(1)[0] === now[0] ? true : undefined;
        }),
      );
      await ha.setHealthy(1, false);
      await waitForSettledPair(ha, 2);
    },
    HA_TEST_TIMEOUT_MS,
  );

  it(
    "keepalived stops on the master (SIGTERM, as `systemctl stop keepalived`): its STOP line makes r1's role backup, r2 takes the VIP as master, and no netgwm-notify process is left in r1",
    async () => {
      const pair = await startPair();
      net = pair.net;
      const ha = pair.net;
      const before = await ha.notifyStates(1);
      await ha.stopKeepalived(1);
      await withLogs(ha, () =>
        waitFor("r1's keepalived to end", async () =>
          ha.commandLines(1).some((argv) => argv[0] === '/usr/sbin/keepalived') ? undefined : true,
        ),
      );
      // r1's role file and last finished role call say backup, r2's master.
      await waitForSettledPair(ha, 2);
      // One role call since the stop, the STOP line's: nothing else tells r1 a state any more.
      expect((await ha.notifyStates(1)).slice(before.length)).toEqual(['BACKUP']);
      // keepalived kills the script's process group (with its deadline timer) a second after its
      // SIGTERM; when keepalived exits first, the script ends on the closed FIFO and the timer 2 s
      // after the signal. A copy that kept running fails this wait at its hang guard.
      await withLogs(ha, () =>
        waitFor('no netgwm-notify process (script or deadline timer) left in r1', async () =>
          ha.commandLines(1).some((argv) => argv.some((arg) => arg.includes('netgwm-notify'))) ? undefined : true,
        ),
      );
    },
    HA_TEST_TIMEOUT_MS,
  );
});
