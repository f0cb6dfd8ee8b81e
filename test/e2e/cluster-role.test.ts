// `netgwm role` through the shipped keepalived notify script, on the real router with a real
// conntrackd (the shipped conntrackd.conf, placeholders substituted): hooks run only as master,
// once on becoming master, with NETGWM_ROLE; the route is kept right in every role.
import { existsSync } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ResultPromise } from 'execa';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Harness, NETGWM, waitFor } from './harness.js';

const EXAMPLES = fileURLToPath(new URL('../../examples/ha/', import.meta.url));
const SYNC_DEV = 'hasync0';
const LOCAL_SYNC_IP = '198.18.200.1';
const PEER_SYNC_IP = '198.18.200.2';

let h: Harness;
let conntrackd: ResultPromise | undefined;
const roleFile = () => join(h.dir, 'role');
const conntrackdConfig = () => join(h.dir, 'conntrackd.conf');
const conntrackdLog = () => join(h.dir, 'conntrackd.log');
const roleCalls = () => join(h.dir, 'role-hook.calls');

beforeAll(async () => {
  h = await Harness.create();
  // A hook that records what the recording hook does not: the role it was told.
  await writeFile(join(h.hooksDir(), '60-role'), `#!/bin/sh\necho "$NETGWM_EVENT $NETGWM_ROLE $1" >> ${roleCalls()}\n`, { mode: 0o755 });
  // conntrackd's sync link: a veth pair in the router stands for the cable to the peer (no peer answers).
  await h.net.exec(h.net.routerNs, 'ip', ['link', 'add', SYNC_DEV, 'type', 'veth', 'peer', 'name', `${SYNC_DEV}p`]);
  await h.net.exec(h.net.routerNs, 'ip', ['link', 'set', `${SYNC_DEV}p`, 'up']);
  await h.net.exec(h.net.routerNs, 'ip', ['address', 'add', `${LOCAL_SYNC_IP}/30`, 'dev', SYNC_DEV]);
  await h.net.exec(h.net.routerNs, 'ip', ['link', 'set', SYNC_DEV, 'up']);
  const placeholders: Record<string, string> = {
    SYNC_DEV,
    LOCAL_SYNC_IP,
    PEER_SYNC_IP,
    VIP: '203.0.113.1',
    LOCK_FILE: join(h.dir, 'conntrackd.lock'),
    CTL_SOCKET: join(h.dir, 'conntrackd.ctl'),
    LOG_FILE: conntrackdLog(),
  };
  const shipped = await readFile(join(EXAMPLES, 'conntrackd.conf'), 'utf8');
  await writeFile(
    conntrackdConfig(),
    shipped.replace(/@([A-Z_]+)@/g, (whole, name: string) => placeholders[name] ?? whole),
  );
  // In the foreground (no -d), so that it is this test's child and dies with it.
  conntrackd = execa('ip', ['netns', 'exec', h.net.routerNs, 'conntrackd', '-C', conntrackdConfig()], { reject: false, stdin: 'ignore' });
  expect(await waitFor(() => existsSync(placeholders.CTL_SOCKET!))).toBe(true);
});
afterAll(async () => {
  conntrackd?.kill('SIGKILL');
  await conntrackd;
  await h?.destroy();
});

/** keepalived's call of the shipped notify script: TYPE NAME STATE PRIORITY after its own options. */
function notify(state: string) {
  return execa(
    'ip',
    [
      'netns',
      'exec',
      h.net.routerNs,
      join(EXAMPLES, 'netgwm-notify'),
      '--netgwm',
      NETGWM,
      '-c',
      h.configFile(),
      'INSTANCE',
      'netgwm_lan',
      state,
      '150',
    ],
    { reject: false, stdin: 'ignore', env: { NETGWM_LOCK_DIR: h.lockDir() } },
  );
}

const roleHookLines = async () => (await readFile(roleCalls(), 'utf8').catch(() => '')).split('\n').filter(Boolean);
const log = async () => (await h.logLines()).join('\n');

describe('netgwm role', () => {
  it('standalone (no cluster:): hooks run as ever, with NETGWM_ROLE=standalone', async () => {
    expect((await h.run()).exitCode).toBe(0);
    expect(await roleHookLines()).toEqual(['start standalone isp1']);
    const refused = await h.netgwm(['role', 'master']);
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toMatch(/cluster: missing; `netgwm role` is for a router of an HA pair/);
  });

  it('no role yet: the route is set, the hooks are not run', async () => {
    await h.net.exec(h.net.routerNs, 'ip', ['route', 'flush', 'table', 'main', 'default']);
    await h.writeConfig({ cluster: { role_file: roleFile(), conntrackd: true, conntrackd_config: conntrackdConfig() } });
    const calls = (await h.hookCalls()).length;
    expect((await h.run()).exitCode).toBe(0);
    expect(await h.currentGateway()).toBe('isp1');
    expect(await h.hookCalls()).toHaveLength(calls);
    expect(await log()).toMatch(/not running the 2 hook\(s\) of the switch to isp1: this router is backup, hooks run on the master only/);
    const status = await h.netgwm(['status', '--json']);
    expect(JSON.parse(status.stdout).cluster).toEqual({ role: null, role_file: roleFile(), runs_hooks: false });
  });

  it('becoming master: conntrackd commits, then the hooks of the uplink in use run once', async () => {
    const result = await notify('MASTER');
    expect(result.exitCode).toBe(0);
    expect(await readFile(roleFile(), 'utf8')).toBe('master\n');
    expect((await stat(roleFile())).mode & 0o777).toBe(0o600);
    expect((await h.netgwm(['status'])).stdout).toMatch(/^HA role: master; hooks run here$/m);
    // conntrackd itself did what primary-backup.sh has it do, in that order, before the hooks ran.
    const done = (await readFile(conntrackdLog(), 'utf8')).match(
      /committing all external caches|flushing caches|resync with master conntrack table|sending bulk update/g,
    );
    expect(done).toEqual([
      'committing all external caches',
      'flushing caches',
      'resync with master conntrack table',
      'sending bulk update',
    ]);
    expect(await log()).toMatch(
      /conntrackd -c, -f, -R, -B done for role master\n.*became master: running the 2 hook\(s\) of the current uplink isp1/,
    );
    expect(await roleHookLines()).toEqual(['start standalone isp1', 'role master isp1']);
    expect((await h.hookCalls()).at(-1)).toEqual({ event: 'role', args: ['isp1', '192.0.2.1', 'wan_1', 'NaN', 'NaN', 'NaN'] });
    // keepalived saying MASTER again (a reload) is no change: no second announcement.
    expect((await notify('MASTER')).exitCode).toBe(0);
    expect(await roleHookLines()).toHaveLength(2);
  });

  it('as master, a switch runs the hooks with NETGWM_ROLE=master', async () => {
    await h.net.failOperator(1);
    try {
      expect((await h.run()).exitCode).toBe(0);
      expect(await h.currentGateway()).toBe('isp2');
      expect((await roleHookLines()).at(-1)).toBe('switch master isp2');
    } finally {
      await h.net.restoreOperator(1);
    }
  });

  it('as backup, the route still follows the uplinks but no hook runs', async () => {
    expect((await notify('BACKUP')).exitCode).toBe(0);
    expect(await readFile(roleFile(), 'utf8')).toBe('backup\n');
    expect(await log()).toMatch(/conntrackd -t, -n done for role backup/);
    const lines = (await roleHookLines()).length;
    expect((await h.run()).exitCode).toBe(0); // isp1 answers again
    h.advanceClock(120); // past min_uptime: isp1 is stable again
    expect((await h.run()).exitCode).toBe(0);
    expect(await h.currentGateway()).toBe('isp1');
    expect(await roleHookLines()).toHaveLength(lines);
  });

  it('conntrackd not running: the role is still recorded, the failure logged, exit 1', async () => {
    conntrackd?.kill('SIGKILL');
    await conntrackd;
    const result = await notify('FAULT');
    expect(result.exitCode).toBe(1);
    expect(await readFile(roleFile(), 'utf8')).toBe('fault\n');
    expect(await log()).toMatch(/conntrackd -t \(shorten the kernel conntrack timers.*\) failed: /);
  });
});

describe('netgwm role with the daemon running', () => {
  it('the daemon follows the role file: no hooks as backup, the switch hooks as master', async () => {
    await h.net.exec(h.net.routerNs, 'ip', ['route', 'flush', 'table', 'main', 'default']);
    await h.writeConfig({ cluster: { role_file: roleFile() } });
    expect((await notify('BACKUP')).exitCode).toBe(0);
    const daemon = h.daemon(['--interval', '60']);
    try {
      expect(await waitFor(async () => (await h.currentGateway()) === 'isp1')).toBe(true);
      const before = (await roleHookLines()).length;
      await h.net.failOperator(1);
      expect(await waitFor(async () => /not running the 2 hook\(s\) of the switch to isp2: this router is backup/.test(await log()))).toBe(
        true,
      );
      expect(await h.currentGateway()).toBe('isp2');

      expect((await notify('MASTER')).exitCode).toBe(0);
      expect((await roleHookLines()).slice(before)).toEqual(['role master isp2']);

      await h.net.failOperator(2);
      expect(await waitFor(async () => (await roleHookLines()).length === before + 2)).toBe(true);
      expect((await roleHookLines()).slice(before)).toEqual(['role master isp2', 'switch master isp3']);
    } finally {
      daemon.kill('SIGTERM');
      await daemon;
      for (const uplink of h.net.uplinks) await h.net.restoreOperator(uplink.index);
    }
  });
});
