// The main story on a real namespace network: start, failover, hold-down, failback, outages.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Harness } from './harness.js';

describe('failover and failback (3 uplinks, 2 sites)', () => {
  let h: Harness;
  beforeAll(async () => {
    // Backups are probed every cycle, so that they can be stable when the primary fails.
    h = await Harness.create({ config: { check_all_gateways: true } });
  });
  afterAll(async () => {
    await h?.destroy();
  });

  it('first start picks the primary and runs the hooks with start arguments', async () => {
    const result = await h.run();
    expect(result).toMatchObject({ exitCode: 0, stdout: '', stderr: '' });
    expect(await h.currentGateway()).toBe('isp1');
    expect(await h.hookCalls()).toEqual([{ event: 'start', args: ['isp1', '192.0.2.1', 'wan_1', 'NaN', 'NaN', 'NaN'] }]);
    expect((await h.logLines()).join('\n')).toMatch(
      /INFO route replaced to: via 192\.0\.2\.1 dev wan_1 \(isp1, was none: no current gateway; no gateway is stable yet, isp1 is the best one up\)/,
    );
    expect(await h.probePaths()).toEqual(h.expectedProbePaths());
  });

  it('a healthy run changes nothing and prints nothing', async () => {
    const result = await h.run();
    expect(result).toMatchObject({ exitCode: 0, stdout: '', stderr: '' });
    expect(await h.hookCalls()).toHaveLength(1);
  });

  it('primary fails: moves to the backup, hooks get the six arguments', async () => {
    h.advanceClock(61); // isp2 has been up since the first run: now it is stable (min_uptime 60)
    await h.net.failOperator(1);
    const result = await h.run();
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toMatch(/WARN gateway isp1 down: 0\/2 sites answered/);
    expect(await h.currentGateway()).toBe('isp2');
    expect((await h.hookCalls()).at(-1)).toEqual({ event: 'switch', args: ['isp2', '192.0.2.5', 'wan-2', 'isp1', '192.0.2.1', 'wan_1'] });
    expect((await h.logLines()).join('\n')).toMatch(
      /INFO route replaced to: via 192\.0\.2\.5 dev wan-2 \(isp2, was isp1: isp1 down, 0\/2 sites answered\)/,
    );
    expect((await h.logLines()).join('\n')).toMatch(/hook .*50-record exited 0 in \d+\.\d\d s; output: hook saw switch to isp2/);
  });

  it('primary returns: no failback before min_uptime, failback after', async () => {
    await h.net.restoreOperator(1);
    await h.run();
    expect(await h.currentGateway()).toBe('isp2');
    expect((await h.logLines()).join('\n')).toMatch(
      /INFO gateway isp1 up: 2\/2 sites answered \(198\.51\.100\.1 \d+\.\d ms, 198\.51\.100\.2 \d+\.\d ms\)/,
    );
    h.advanceClock(50);
    await h.run();
    expect(await h.currentGateway()).toBe('isp2'); // up for 50 s of the 60 s min_uptime
    h.advanceClock(15);
    await h.run();
    expect(await h.currentGateway()).toBe('isp1');
    expect((await h.hookCalls()).at(-1)!.args).toEqual(['isp1', '192.0.2.1', 'wan_1', 'isp2', '192.0.2.5', 'wan-2']);
    expect((await h.logLines()).join('\n')).toMatch(
      /route replaced to: via 192\.0\.2\.1 dev wan_1 \(isp1, was isp2: isp1 is back and stable, up for 1m\d\ds\)/,
    );
  });

  it('all down: the route stays, no hook runs, "all gateways down" is logged once', async () => {
    const hooksBefore = (await h.hookCalls()).length;
    for (const i of [1, 2, 3]) await h.net.failOperator(i);
    await h.run();
    await h.run();
    expect(await h.currentGateway()).toBe('isp1');
    expect(await h.hookCalls()).toHaveLength(hooksBefore);
    expect((await h.logLines()).filter((line) => line.includes('ERROR all gateways down; keeping the current route (isp1)'))).toHaveLength(
      1,
    );
    expect(await h.probePaths()).toEqual(h.expectedProbePaths());
    await h.net.restoreOperator(3);
    await h.run();
    expect(await h.currentGateway()).toBe('isp3');
    expect((await h.logLines()).join('\n')).toMatch(/INFO a gateway answers again after \d+ s with all gateways down/);
    for (const i of [1, 2]) await h.net.restoreOperator(i);
  });

  it('the router link going down counts as the gateway down', async () => {
    await h.writeConfig({ min_uptime: 0 });
    await h.run();
    expect(await h.currentGateway()).toBe('isp1');
    await h.net.setUplinkLink(1, false);
    const result = await h.run();
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toMatch(/WARN gateway isp1 down: no route via 192\.0\.2\.1: Error: Nexthop has invalid gateway\.$/m);
    expect(await h.currentGateway()).toBe('isp2');
    await h.net.setUplinkLink(1, true);
    await h.run();
    expect(await h.currentGateway()).toBe('isp1');
  });
});
