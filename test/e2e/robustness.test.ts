// The failure modes NetGWM users hit: dead check sites, flapping links, killed runs, races,
// configs written for the original, dev-only gateways, host-name sites, bad configs.
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Harness, sleep, waitFor } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await Harness.create();
});
afterAll(async () => {
  await h?.destroy();
});
afterEach(async () => {
  // Each test starts from a healthy network and no history.
  for (const uplink of h.net.uplinks) {
    await h.net.restoreOperator(uplink.index);
    await h.net.setUplinkLink(uplink.index, true);
  }
  for (const site of h.net.sites) await h.net.setSiteDead(site, false);
  await h.net.exec(h.net.routerNs, 'ip', ['route', 'flush', 'table', 'main', 'default'], { reject: false });
  await h.writeConfig({});
  await rm(h.stateDir(), { recursive: true, force: true });
  await rm(h.logFile(), { force: true });
});

describe('probing', () => {
  it('one check site dead everywhere: no switch (a gateway is up when any site answers)', async () => {
    await h.run();
    expect(await h.currentGateway()).toBe('isp1');
    await h.net.setSiteDead(h.net.sites[0]!, true);
    const hooks = (await h.hookCalls()).length;
    for (let i = 0; i < 3; i++) expect((await h.run()).exitCode).toBe(0);
    expect(await h.currentGateway()).toBe('isp1');
    expect(await h.hookCalls()).toHaveLength(hooks);
    // Not "all down, route kept" either: isp1 stays up on the site that answers.
    const log = (await h.logLines()).join('\n');
    expect(log).not.toMatch(/gateway isp1 down|all gateways down/);
    const status = JSON.parse((await h.netgwm(['status', '--json'])).stdout) as {
      gateways: Array<{ name: string; state: string; sites_answered: number }>;
    };
    expect(status.gateways[0]).toMatchObject({ name: 'isp1', state: 'up', sites_answered: 1 });
  });

  it("a check site that is the router's own address is skipped with an error: it would answer through a dead uplink", async () => {
    const own = h.net.uplinks[1]!.routerIp;
    await h.writeConfig({ check_sites: [own, ...h.net.sites] });
    await h.run();
    expect(await h.currentGateway()).toBe('isp1');
    await h.net.failOperator(1);
    await h.run();
    expect(await h.currentGateway()).toBe('isp2');
    expect((await h.logLines()).join('\n')).toContain(
      `ERROR check site ${own} is not an address of this router (the router answers it itself, so every gateway would look up); skipping it this cycle`,
    );
  });

  it('a flapping primary never gets traffic back while unstable, and gets it once it is stable', async () => {
    await h.writeConfig({ min_uptime: 60 });
    await h.run();
    await h.net.failOperator(1);
    await h.run();
    expect(await h.currentGateway()).toBe('isp2');
    // Up for 40 s, down, up for 40 s, ...: never the 60 s in a row that min_uptime asks for,
    // though more than 60 s pass between its first and its last time up.
    for (let i = 0; i < 4; i++) {
      if (i % 2 === 0) await h.net.restoreOperator(1);
      else await h.net.failOperator(1);
      h.advanceClock(40);
      await h.run();
      expect(await h.currentGateway(), `flap ${i}`).toBe('isp2');
    }
    await h.net.restoreOperator(1);
    await h.run();
    h.advanceClock(40);
    await h.run();
    expect(await h.currentGateway()).toBe('isp2');
    h.advanceClock(40);
    await h.run();
    expect(await h.currentGateway()).toBe('isp1');
  });

  it('a gateway given only by dev is probed and used through that device', async () => {
    await h.writeConfig({
      gateways: { lte: { dev: 'wan.3', priority: 1 }, isp2: { ip: h.net.uplinks[1]!.gatewayIp, priority: 2 } },
    });
    // A dev-only gateway is a point-to-point link in real life; here the operator answers ARP for all.
    await h.net.exec(h.net.uplinks[2]!.operatorNs, 'sysctl', [
      '-q',
      '-w',
      'net.ipv4.conf.to-router.proxy_arp=1',
      'net.ipv4.neigh.to-router.proxy_delay=0',
    ]);
    await h.run();
    expect(await h.net.defaultRoutes()).toEqual([expect.objectContaining({ dev: 'wan.3' })]);
    expect((await h.hookCalls()).at(-1)!.args).toEqual(['lte', 'NaN', 'wan.3', 'NaN', 'NaN', 'NaN']);
    await h.net.failOperator(3);
    await h.run();
    expect(await h.currentGateway()).toBe('isp2');
    expect((await h.hookCalls()).at(-1)!.args).toEqual(['isp2', '192.0.2.5', 'wan-2', 'lte', 'NaN', 'wan.3']);
  });

  it('host-name check sites resolve (here from /etc/hosts); one that fails is skipped, not counted as down', async () => {
    await h.net.setHosts({ 'site-a.example': h.net.sites[0]!, 'site-b.example': h.net.sites[1]! });
    await h.writeConfig({ check_sites: ['site-a.example', 'site-b.example'] });
    await h.run();
    expect(await h.currentGateway()).toBe('isp1');
    await h.net.setHosts({ 'site-a.example': h.net.sites[0]! });
    await h.writeConfig({ check_sites: ['site-a.example', 'unknown-site.invalid'], probe: { resolve_timeout: 0.5, timeout: 0.5 } });
    const result = await h.run();
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toMatch(/WARN check site unknown-site\.invalid did not resolve \(.*\); skipping it until it does/);
    expect(await h.currentGateway()).toBe('isp1');
  });

  it('a site that does not resolve is reported when it starts and when it ends, not by every cron run', async () => {
    // A resolver that fails at once: nothing listens on the router's own loopback.
    const resolvConf = join(h.net.routerEtcDir, 'resolv.conf');
    await writeFile(resolvConf, 'nameserver 127.0.0.1\n');
    const site = 'check.netgwm.invalid';
    const siteLines = async () => (await h.logLines()).filter((line) => line.includes(site));
    const state = async () =>
      JSON.parse(await readFile(join(h.stateDir(), 'state.json'), 'utf8')) as { unresolved?: Record<string, { failures: number }> };
    try {
      await h.net.setHosts({});
      await h.writeConfig({ check_sites: [...h.net.sites, site] });
      const first = await h.run();
      expect(first).toMatchObject({ exitCode: 0, stdout: '' });
      expect(first.stderr.trimEnd().split('\n')).toEqual([
        expect.stringMatching(new RegExp(`WARN check site ${site} did not resolve \\(.*\\); skipping it until it does; retrying in 1m00s`)),
      ]);
      // The next run (within the minute of back-off, or a silent retry after it) prints nothing.
      expect(await h.run()).toMatchObject({ exitCode: 0, stdout: '', stderr: '' });
      expect(await siteLines()).toHaveLength(1);
      expect((await state()).unresolved?.[site]).toMatchObject({ failures: 1 });
      // It resolves (from the router's /etc/hosts, read every run): one line, in the log only.
      await h.net.setHosts({ [site]: h.net.sites[0]! });
      expect(await h.run()).toMatchObject({ exitCode: 0, stdout: '', stderr: '' });
      const lines = await siteLines();
      expect(lines).toHaveLength(2);
      expect(lines[1]).toMatch(
        new RegExp(
          `INFO check site ${site} resolves again, to ${h.net.sites[0]!.replaceAll('.', '\\.')}, after 1 failed lookup\\(s\\) in `,
        ),
      );
      expect(await state()).not.toHaveProperty('unresolved');
      expect(await h.run()).toMatchObject({ exitCode: 0, stderr: '' });
      expect(await siteLines()).toHaveLength(2);
    } finally {
      await rm(resolvConf, { force: true });
    }
  });
});

describe('interrupted and concurrent runs', () => {
  it('a kill -9 in the middle of a probe leaves only the probe paths, which the next run keeps as they are', async () => {
    await h.run();
    // isp1 dead and a long timeout: the run sits in the probe of isp1 for 5 s.
    await h.writeConfig({ probe: { timeout: 5 } });
    await h.net.failOperator(1);
    expect((await h.netgwm(['cleanup'])).exitCode).toBe(0);
    expect(await h.probePaths()).toEqual([]);
    const victim = h.start(['run']);
    // The paths back in place: the victim holds the lock and is probing.
    expect(await waitFor(() => h.probePathsInPlace())).toBe(true);
    victim.kill('SIGKILL');
    expect((await victim).exitCode).not.toBe(0);
    expect(await h.probePaths()).toEqual(h.expectedProbePaths());
    await h.writeConfig({});
    await h.net.restoreOperator(1);
    const installs = async () => (await h.logLines()).filter((line) => line.includes('probe paths installed or repaired')).length;
    const before = await installs();
    expect(await h.run()).toMatchObject({ exitCode: 0, stdout: '', stderr: '' });
    expect(await installs()).toBe(before); // nothing to repair
    expect(await h.probePaths()).toEqual(h.expectedProbePaths());
  });

  it('cron-style runs and the daemon at once never interleave; a run that waits too long exits 75', async () => {
    await h.writeConfig({ probe: { timeout: 1 }, check_all_gateways: true });
    await h.net.failOperator(3); // every cycle spends ~1 s probing the dead isp3
    const daemon = h.daemon(['--interval', '2']);
    try {
      await sleep(300);
      const runs = await Promise.all([0, 1, 2, 3].map(() => h.netgwm(['run', '--wait', '30'])));
      for (const run of runs) expect([0, 75]).toContain(run.exitCode);
      expect(runs.filter((run) => run.exitCode === 0).length).toBeGreaterThan(0);
      const busy = await Promise.all([h.netgwm(['run', '--wait', '0']), h.netgwm(['run', '--wait', '0'])]);
      const refused = busy.find((run) => run.exitCode === 75);
      expect(refused?.stderr).toMatch(/WARN another netgwm cycle is running; gave up after waiting 0\.0 s/);
    } finally {
      daemon.kill('SIGTERM');
      await daemon;
    }
    const log = (await h.logLines()).join('\n');
    // Without the lock, one cycle would find the other's probe rule and "clean it up".
    expect(log).not.toMatch(/left behind/);
    expect((log.match(/DEBUG cycle done/g) ?? []).length).toBeGreaterThanOrEqual(3);
  });
});

describe('configs', () => {
  it('a config written for the original NetGWM works unchanged', async () => {
    const [isp1, isp2] = h.net.uplinks;
    // NetGWM's sample, with this network's addresses; `yes` is YAML 1.1 true, as PyYAML read it.
    await writeFile(
      h.configFile(),
      `gateways:
  thebestone: {ip: ${isp1!.gatewayIp},  priority: 1}
  notsogood:  {ip: ${isp2!.gatewayIp}, priority: 2}
  gprsbackup: {dev: ppp333,      priority: 3}
min_uptime: 900
check_sites: [${h.net.sites.join(', ')}]
check_all_gateways: yes
state_dir: ${h.stateDir()}
log_file: ${h.logFile()}
status_dir: ${h.statusDir()}
`,
    );
    expect((await h.run()).exitCode).toBe(0);
    expect(await h.currentGateway()).toBe('isp1');
    expect((await h.hookCalls()).at(-1)!.args.slice(0, 2)).toEqual(['thebestone', isp1!.gatewayIp]);
    // ppp333 does not exist: probed, found down, reported; nothing breaks.
    expect((await h.logLines()).join('\n')).toMatch(/WARN gateway gprsbackup down: no route dev ppp333: Cannot find device "ppp333"$/m);
    // NetGWM's status files, as its scripts read them: first answering site and mean RTT, or down.
    expect(await readFile(join(h.statusDir(), 'thebestone'), 'utf8')).toMatch(/^up:198\.51\.100\.1:\d+\.\d{3}$/);
    expect(await readFile(join(h.statusDir(), 'gprsbackup'), 'utf8')).toBe('down');
  });

  it('a bad config exits 2 with file, key and problem, and never touches routes', async () => {
    await h.run();
    const before = await h.net.defaultRoutes();
    // Everything else as the harness writes it (temp state and log): only the priority is wrong.
    await h.writeConfig({ gateways: { isp1: { ip: h.net.uplinks[0]!.gatewayIp, priority: 'high' } } });
    const result = await h.run();
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toBe(`${h.configFile()}: gateways.isp1.priority: expected a number, got "high"`);
    expect(await h.net.defaultRoutes()).toEqual(before);
    // Someone reading the log learns why cycles stopped: the broken config still names its log.
    expect((await h.logLines()).at(-1)).toMatch(
      /ERROR config error: .*netgwm\.yml: gateways\.isp1\.priority: expected a number, got "high"$/,
    );
  });

  it('`use NAME` pins a gateway even while it is down; `use auto` returns to automatic choice', async () => {
    await h.run();
    expect((await h.netgwm(['use', 'isp3'])).stdout).toMatch(/pinned to isp3 from the next cycle on/);
    await h.run();
    expect(await h.currentGateway()).toBe('isp3');
    await h.net.failOperator(3);
    const pinnedDown = await h.run();
    expect(pinnedDown.stderr).toMatch(/WARN pinned gateway isp3 is down; staying on it/);
    expect(await h.currentGateway()).toBe('isp3');
    expect(await h.run()).toMatchObject({ exitCode: 0, stderr: '' }); // said once, not by every cron run
    expect((await h.netgwm(['use', 'isp9'])).exitCode).toBe(2);
    await h.netgwm(['use', 'auto']);
    await h.run();
    expect(await h.currentGateway()).toBe('isp1');
  });

  it('a truncated state file is logged and treated as no history', async () => {
    await h.run();
    await writeFile(join(h.stateDir(), 'state.json'), '{"version":1,"gatew');
    const result = await h.run();
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toMatch(/WARN state file .*state\.json unusable \(not JSON: .*\); starting with no history/);
    expect((await h.run()).stderr).toBe('');
  });
});
