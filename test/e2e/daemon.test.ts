// The daemon: start-to-start interval, clean stop on signals, config reload, log reopen.
import { readFileSync } from 'node:fs';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Harness, waitFor } from './harness.js';

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

/** The daemon's `cycle done` debug lines. */
async function cycleEnds(): Promise<string[]> {
  return (await h.logLines()).filter((line) => line.includes('DEBUG cycle done'));
}

/** The daemon's result once it exited; fails if it is still running after `ms` (a hang guard). */
async function exited(daemon: ReturnType<Harness['daemon']>, ms = 20_000) {
  const guard = new Promise<'hung'>((done) => setTimeout(() => done('hung'), ms).unref());
  const result = await Promise.race([daemon, guard]);
  if (result === 'hung') {
    daemon.kill('SIGKILL');
    throw new Error(`the daemon was still running ${ms} ms after the signal`);
  }
  return result;
}

describe('netgwm daemon', () => {
  // The start-to-start schedule itself is tested on a virtual clock in test/unit/daemon.test.ts.
  it('runs cycles every interval, logs to stdout, and stops on SIGTERM with exit 0', async () => {
    await h.writeConfig({ check_all_gateways: true });
    await h.net.failOperator(3);
    const daemon = h.daemon(['--interval', '0.5']);
    expect(await waitFor(async () => (await cycleEnds()).length >= 3)).toBe(true);
    daemon.kill('SIGTERM');
    const result = await exited(daemon);
    expect(result.exitCode).toBe(0);
    expect(String(result.stdout)).toMatch(/INFO netgwm \S+ daemon started: watching every uplink continuously, housekeeping every 0\.5 s/);
    expect(String(result.stdout)).toMatch(/INFO daemon stopping on SIGTERM/);
    expect(await h.probePaths()).toEqual(h.expectedProbePaths());
    await h.net.restoreOperator(3);
  });

  it('INTERVAL from the environment (as /etc/default/netgwm sets it) is the default interval', async () => {
    const daemon = h.daemon([], { INTERVAL: '0.5' });
    expect(await waitFor(async () => (await cycleEnds()).length >= 1)).toBe(true);
    daemon.kill('SIGTERM');
    expect(String((await exited(daemon)).stdout)).toMatch(/daemon started: watching every uplink continuously, housekeeping every 0\.5 s/);
  });

  it('a bad interval is a usage error', async () => {
    const result = await h.netgwm(['daemon', '--interval', 'soon']);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/--interval: expected a number of seconds, got "soon"/);
  });

  // How soon it stops (within 2 s, the README says) is measured by npm run bench.
  it('SIGTERM in the middle of a 30 s probe aborts it, exits 0 and leaves the probe paths as they were', async () => {
    await h.writeConfig({ probe: { timeout: 30 } });
    await h.net.failOperator(1);
    expect((await h.netgwm(['cleanup'])).exitCode).toBe(0);
    const daemon = h.daemon(['--interval', '60']);
    // The paths back in place: the first cycle is probing (for 30 s).
    expect(await waitFor(() => h.probePathsInPlace())).toBe(true);
    daemon.kill('SIGTERM');
    const result = await exited(daemon); // the guard (20 s) ends before the 30 s probe would have
    expect(result.exitCode).toBe(0);
    expect(String(result.stdout)).not.toMatch(/cycle done/);
    expect(await h.probePaths()).toEqual(h.expectedProbePaths());
    await h.net.restoreOperator(1);
  });

  it('SIGINT while a hook hangs kills the hook and exits 0', async () => {
    await h.writeConfig({ hook_timeout: 600 });
    await h.net.exec(h.net.routerNs, 'ip', ['route', 'flush', 'table', 'main', 'default']);
    const hook = join(h.hooksDir(), '60-hang');
    await writeFile(hook, '#!/bin/sh\necho $$ > "$0.started"\nexec sleep 600\n', { mode: 0o755 });
    try {
      const daemon = h.daemon(['--interval', '60']);
      expect(await waitFor(async () => (await readFile(`${hook}.started`, 'utf8').catch(() => '')).endsWith('\n'))).toBe(true);
      const hookPid = Number(await readFile(`${hook}.started`, 'utf8'));
      daemon.kill('SIGINT');
      const result = await exited(daemon); // long before the 600 s hook would have ended
      expect(result.exitCode).toBe(0);
      expect(await waitFor(() => !isRunning(hookPid))).toBe(true);
    } finally {
      await rm(hook);
      await rm(`${hook}.started`, { force: true });
    }
  });

  it('SIGHUP reloads the config; a bad new config is logged and the old one kept', async () => {
    await h.writeConfig({});
    const daemon = h.daemon(['--interval', '0.5']);
    try {
      expect(await waitFor(async () => (await cycleEnds()).length >= 1)).toBe(true);
      await writeFile(h.configFile(), 'gateways: {}\ncheck_sites: []\n');
      daemon.kill('SIGHUP');
      expect(await waitFor(async () => (await h.logLines()).some((line) => line.includes('keeping the previous config')))).toBe(true);
      const cyclesAfterBadReload = (await cycleEnds()).length;
      expect(await waitFor(async () => (await cycleEnds()).length >= cyclesAfterBadReload + 2)).toBe(true);
      expect(await h.currentGateway()).toBe('isp1');

      // A good config takes effect: isp3 pinned.
      await h.writeConfig({ mode: 'isp3' });
      daemon.kill('SIGHUP');
      expect(await waitFor(async () => (await h.currentGateway()) === 'isp3')).toBe(true);
      expect((await h.logLines()).join('\n')).toMatch(/INFO config reloaded from /);
    } finally {
      daemon.kill('SIGTERM');
      expect((await exited(daemon)).exitCode).toBe(0);
    }
  });

  it.each(['SIGUSR1', 'SIGHUP'] as const)('%s reopens the log file after logrotate moved it', async (signal) => {
    await h.writeConfig({});
    const daemon = h.daemon(['--interval', '0.3']);
    try {
      expect(await waitFor(async () => (await cycleEnds()).length >= 1)).toBe(true);
      await rename(h.logFile(), `${h.logFile()}.1`);
      daemon.kill(signal);
      expect(await waitFor(async () => (await cycleEnds()).length >= 1)).toBe(true);
    } finally {
      daemon.kill('SIGTERM');
      await exited(daemon);
    }
  });
});

/** True while process `pid` exists and is not a zombie. */
function isRunning(pid: number): boolean {
  try {
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.startsWith('Z');
  } catch {
    return false;
  }
}
