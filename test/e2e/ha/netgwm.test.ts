// netgwm in both routers of the HA pair, as issue 14 wants it: `netgwm daemon` keeps each
// router's route right in every role, keepalived's track script is `netgwm health` and its
// notify script calls `netgwm role STATE` (which commits conntrackd's cache on becoming master).
// keepalived.conf and the notify script are the lab's (scripts/testnet/ha-templates.ts), in the
// shape of the shipped examples.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { HaNetwork, type HaRouter, ROUTER_IDS, waitFor } from '../../../scripts/testnet/ha-network.js';
import { NETGWM } from '../harness.js';
import { HA_TEST_TIMEOUT_MS, routeVia, waitForValue, withLogs } from './pair.js';

// Records every call as one line: the event, NETGWM_ROLE, then the arguments, tab-separated.
const RECORDING_HOOK = `#!/bin/sh
{ printf '%s\\t%s' "$NETGWM_EVENT" "$NETGWM_ROLE"; for arg in "$@"; do printf '\\t%s' "$arg"; done; echo; } >> "$0.calls"
`;

interface HookCall {
  event: string;
  role: string;
  args: string[];
}

const configFile = (router: HaRouter) => join(router.runDir, 'netgwm.yml');
const lockEnv = (router: HaRouter) => ({ NETGWM_LOCK_DIR: join(router.runDir, 'lock') });
const netgwmWrapper = (router: HaRouter) => join(router.runDir, 'netgwm');

// What keepalived runs as @NETGWM@: the built netgwm, on the test's lock directory (keepalived
// passes its scripts no environment of ours).
const wrapperScript = (router: HaRouter) => `#!/bin/sh
NETGWM_LOCK_DIR=${lockEnv(router).NETGWM_LOCK_DIR} exec ${process.execPath} ${NETGWM} "$@"
`;

async function writeNetgwmFiles(net: HaNetwork, router: HaRouter): Promise<void> {
  const peer = net.router(router.id === 1 ? 2 : 1);
  const config = {
    gateways: Object.fromEntries(router.uplinks.map((u) => [`isp${u.index}`, { ip: u.gatewayIp, priority: u.index }])),
    min_uptime: 60,
    check_sites: net.sites,
    state_dir: join(router.runDir, 'netgwm-state'),
    log_file: join(router.runDir, 'netgwm.log'),
    status_dir: join(router.runDir, 'status'),
    hooks_dir: join(router.runDir, 'post-replace.d'),
    log_level: 'debug',
    probe: { timeout: 0.5 },
    cluster: { conntrackd: true, peer_config: configFile(peer) },
  };
  await writeFile(configFile(router), stringify(config));
  await mkdir(join(router.runDir, 'post-replace.d'), { recursive: true });
  await writeFile(join(router.runDir, 'post-replace.d', '50-record'), RECORDING_HOOK, { mode: 0o755 });
  await writeFile(netgwmWrapper(router), wrapperScript(router), { mode: 0o755 });
}

async function hookCalls(router: HaRouter): Promise<HookCall[]> {
  const text = await readFile(join(router.runDir, 'post-replace.d', '50-record.calls'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [event, role, ...args] = line.split('\t');
      return { event: event!, role: role!, args };
    });
}

describe('HA pair with netgwm in both routers', () => {
  let net: HaNetwork | undefined;

  afterEach(async () => {
    await net?.destroy();
    net = undefined;
  });

  /** Both netgwm daemons running and routing, then keepalived and conntrackd with netgwm's health and role. */
  async function pairWithNetgwm(): Promise<HaNetwork> {
    net = await HaNetwork.create({ staticRoutes: false });
    const ha = net;
    for (const router of Object.values(ha.routers)) await writeNetgwmFiles(ha, router);
    for (const router of Object.values(ha.routers)) {
      ha.startProcess(
        router.ns,
        process.execPath,
        [NETGWM, 'daemon', '-c', configFile(router)],
        join(router.runDir, 'netgwm.out'),
        lockEnv(router),
      );
    }
    // Every role routes: both routers have their route before keepalived even starts.
    for (const router of Object.values(ha.routers)) await waitForValue(() => routeVia(ha, router), router.uplinks[0]!.gatewayIp);
    await ha.startDaemons({ netgwm: (router) => ({ program: netgwmWrapper(router), config: configFile(router) }) });
    await withLogs(ha, () => ha.waitForMaster(1));
    await withLogs(ha, () => waitForValue(() => ha.notifyStates(2), ['BACKUP']));
    return ha;
  }

  it(
    'comes up: both routers route via isp1, `netgwm health` says ok on both, only the master ran the hooks, once, with NETGWM_ROLE=master',
    async () => {
      const ha = await pairWithNetgwm();
      for (const id of ROUTER_IDS) {
        const health = await ha.exec(ha.router(id).ns, process.execPath, [NETGWM, 'health', '-c', configFile(ha.router(id))], {
          reject: false,
        });
        expect(health).toMatchObject({ exitCode: 0 });
        expect(health.stdout).toMatch(/^ok: isp1/);
        expect(await routeVia(ha, ha.router(id))).toBe(ha.router(id).uplinks[0]!.gatewayIp);
      }
      await waitFor('r1 hooks as master', async () => ((await hookCalls(ha.router(1))).length > 0 ? true : undefined));
      const calls = await hookCalls(ha.router(1));
      expect(calls).toHaveLength(1);
      expect(calls[0]).toMatchObject({ role: 'master' });
      expect(await hookCalls(ha.router(2))).toEqual([]);
      expect(await readFile(join(ha.router(2).runDir, 'netgwm-state', 'role'), 'utf8')).toMatch(/backup/);
    },
    HA_TEST_TIMEOUT_MS,
  );

  it(
    "all of the master's uplinks fail: `netgwm health` fails there and the VIP moves to r2, which runs the hooks as master; the TCP flow survives",
    async () => {
      const ha = await pairWithNetgwm();
      await ha.startStreamServer();
      const client = ha.startStreamClient();
      await client.waitForMoreBytes(20_000);
      for (const uplink of ha.router(1).uplinks) await ha.setUplinkFailed(1, uplink.index, true);
      await withLogs(ha, () => ha.waitForMaster(2));
      const health = await ha.exec(ha.router(1).ns, process.execPath, [NETGWM, 'health', '-c', configFile(ha.router(1))], {
        reject: false,
      });
      expect(health).toMatchObject({ exitCode: 1 });
      expect(health.stdout).toMatch(/^fail:/);
      await waitFor('r2 hooks as master', async () => ((await hookCalls(ha.router(2))).length > 0 ? true : undefined));
      expect(await hookCalls(ha.router(2))).toEqual([expect.objectContaining({ role: 'master' })]);
      expect(await client.waitForMoreBytes(50_000)).toMatchObject({ closed: false, resets: 0, errors: [] });
    },
    HA_TEST_TIMEOUT_MS,
  );
});
