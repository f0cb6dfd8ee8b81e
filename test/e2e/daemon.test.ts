// The daemon: start-to-start interval, clean stop on signals, config reload, log reopen.
import { existsSync } from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Harness, sleep, waitFor } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await Harness.create();
});
afterAll(async () => {
  await h?.destroy();
});
beforeEach(async () => {
  await rm(h.logFile(), { force: true }); // each test counts its own daemon's cycles
});

/** Start times of the daemon's cycles, from its `cycle done` debug lines. */
async function cycleEnds(): Promise<number[]> {
  return (await h.logLines()).filter((line) => line.includes('DEBUG cycle done')).map((line) => Date.parse(line.slice(0, 23).replace(' ', 'T')));
}

describe('netgwm daemon', () => {
  it('runs a cycle every interval measured start to start, logs to stdout, and stops on SIGTERM with exit 0', async () => {
    // Every cycle probes the dead isp3 for 0.5 s: with sleep-after-work the period would be 1.5 s.
    await h.writeConfig({ check_all_gateways: true });
    await h.net.failOperator(3);
    const daemon = h.daemon(['--interval', '1']);
    expect(await waitFor(async () => (await cycleEnds()).length >= 4, 8000)).toBe(true);
    daemon.kill('SIGTERM');
    const result = await daemon;
    expect(result.exitCode).toBe(0);
    const ends = await cycleEnds();
    const gaps = ends.slice(1).map((end, i) => end - ends[i]!);
    for (const gap of gaps) expect(gap).toBeGreaterThan(800), expect(gap).toBeLessThan(1300);
    expect(String(result.stdout)).toMatch(/INFO netgwm \S+ daemon started: a cycle every 1 s/);
    expect(String(result.stdout)).toMatch(/INFO daemon stopping on SIGTERM/);
    expect(await h.checkTableLeftovers()).toEqual([]);
    await h.net.restoreOperator(3);
  });

  it('INTERVAL from the environment (as /etc/default/netgwm sets it) is the default interval', async () => {
    const daemon = h.daemon([], { INTERVAL: '0.5' });
    expect(await waitFor(async () => (await cycleEnds()).length >= 1, 5000)).toBe(true);
    daemon.kill('SIGTERM');
    expect(String((await daemon).stdout)).toMatch(/daemon started: a cycle every 0\.5 s/);
  });

  it('a bad interval is a usage error', async () => {
    const result = await h.netgwm(['daemon', '--interval', 'soon']);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/--interval: expected a number of seconds, got "soon"/);
  });

  it('SIGTERM in the middle of a long probe exits 0 within 2 s and leaves nothing behind', async () => {
    await h.writeConfig({ probe: { timeout: 10 } });
    await h.net.failOperator(1);
    const daemon = h.daemon(['--interval', '60']);
    expect(await waitFor(async () => (await h.checkTableLeftovers()).length >= 2, 5000)).toBe(true);
    const stopped = Date.now();
    daemon.kill('SIGTERM');
    const result = await daemon;
    expect(result.exitCode).toBe(0);
    expect(Date.now() - stopped).toBeLessThan(2000);
    expect(await h.checkTableLeftovers()).toEqual([]);
    await h.net.restoreOperator(1);
  });

  it('SIGINT while a hook hangs kills the hook and exits 0 within 2 s', async () => {
    await h.writeConfig({});
    await h.net.exec(h.net.routerNs, 'ip', ['route', 'flush', 'table', 'main', 'default']);
    const hook = join(h.hooksDir(), '60-hang');
    await writeFile(hook, '#!/bin/sh\necho started > "$0.started"\nsleep 60\n', { mode: 0o755 });
    try {
      const daemon = h.daemon(['--interval', '60']);
      expect(await waitFor(() => existsSync(`${hook}.started`), 5000)).toBe(true);
      const stopped = Date.now();
      daemon.kill('SIGINT');
      const result = await daemon;
      expect(result.exitCode).toBe(0);
      expect(Date.now() - stopped).toBeLessThan(2000);
    } finally {
      await rm(hook);
    }
  });

  it('SIGHUP reloads the config; a bad new config is logged and the old one kept', async () => {
    await h.writeConfig({});
    const daemon = h.daemon(['--interval', '0.5']);
    try {
      expect(await waitFor(async () => (await cycleEnds()).length >= 1, 5000)).toBe(true);
      await writeFile(h.configFile(), 'gateways: {}\ncheck_sites: []\n');
      daemon.kill('SIGHUP');
      expect(await waitFor(async () => (await h.logLines()).some((line) => line.includes('keeping the previous config')), 3000)).toBe(true);
      const cyclesAfterBadReload = (await cycleEnds()).length;
      expect(await waitFor(async () => (await cycleEnds()).length >= cyclesAfterBadReload + 2, 3000)).toBe(true);
      expect(await h.currentGateway()).toBe('isp1');

      // A good config takes effect: isp3 pinned.
      await h.writeConfig({ mode: 'isp3' });
      daemon.kill('SIGHUP');
      expect(await waitFor(async () => (await h.currentGateway()) === 'isp3', 3000)).toBe(true);
      expect((await h.logLines()).join('\n')).toMatch(/INFO config reloaded from /);
    } finally {
      daemon.kill('SIGTERM');
      expect((await daemon).exitCode).toBe(0);
    }
  });

  it.each(['SIGUSR1', 'SIGHUP'] as const)('%s reopens the log file after logrotate moved it', async (signal) => {
    await h.writeConfig({});
    const daemon = h.daemon(['--interval', '0.3']);
    try {
      expect(await waitFor(async () => (await cycleEnds()).length >= 1, 5000)).toBe(true);
      await rename(h.logFile(), `${h.logFile()}.1`);
      daemon.kill(signal);
      expect(await waitFor(async () => (await cycleEnds()).length >= 1, 3000)).toBe(true);
    } finally {
      daemon.kill('SIGTERM');
      await daemon;
    }
  });
});
