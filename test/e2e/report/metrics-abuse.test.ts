// The daemon's /metrics under abuse from a local user: many idle connections, and a process
// with no file descriptor left. The daemon must keep running its cycles and never crash.
import { readdir, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Harness, NETGWM, sleep, waitFor } from '../harness.js';

const IDLE_CLIENTS = fileURLToPath(new URL('fixtures/idle-clients.ts', import.meta.url));
const projectRoot = fileURLToPath(new URL('../../../', import.meta.url));
/** A port of the router namespace's own loopback: nothing else listens there. */
const PORT = 20_000 + Math.floor(Math.random() * 10_000);

let h: Harness;
beforeAll(async () => {
  h = await Harness.create();
  await h.writeConfig({ metrics_listen: `127.0.0.1:${PORT}` });
});
afterAll(async () => {
  await h?.destroy();
});
beforeEach(async () => {
  await rm(h.logFile(), { force: true }); // each test counts the lines of its own daemon
});

/** `netgwm daemon --interval 1` in the router namespace, with at most `nofile` descriptors. */
function daemon(nofile: number): ResultPromise {
  return execa(
    'prlimit',
    [
      `--nofile=${nofile}`,
      '--',
      'ip',
      'netns',
      'exec',
      h.net.routerNs,
      process.execPath,
      NETGWM,
      'daemon',
      '--interval',
      '1',
      '-c',
      h.configFile(),
    ],
    { reject: false, stdin: 'ignore' },
  );
}

async function scrape(): Promise<string> {
  const script = `fetch('http://127.0.0.1:${PORT}/metrics').then(async (r) => console.log(r.status + ' ' + (r.status === 200 ? (await r.text()).length : await r.text())), (e) => console.log('failed ' + e.cause?.code))`;
  return (await h.net.exec(h.net.routerNs, process.execPath, ['-e', script])).stdout;
}

const cyclesDone = async () => (await h.logLines()).filter((line) => line.includes('DEBUG cycle done')).length;
const problems = async () => (await h.logLines()).filter((line) => / (ERROR|WARN) /.test(line));

describe('metrics endpoint under abuse', () => {
  it('300 idle connections beyond the cap: cycles go on, the idle ones are closed, /metrics answers again', async () => {
    // 128 descriptors: far fewer than the connections, so only the cap keeps some for the cycles.
    const run = daemon(128);
    try {
      expect(
        await waitFor(async () =>
          (await h.logLines()).some((line) => line.includes(`serving metrics at http://127.0.0.1:${PORT}/metrics`)),
        ),
      ).toBe(true);
      const hog = execa(
        'ip',
        ['netns', 'exec', h.net.routerNs, process.execPath, '--import', 'tsx', IDLE_CLIENTS, '127.0.0.1', String(PORT), '316', '120000'],
        { cwd: projectRoot, reject: false, stdin: 'ignore' },
      );
      let out = '';
      hog.stdout?.on('data', (chunk) => (out += String(chunk)));
      expect(await waitFor(() => out.includes('settled'), 60_000), out).toBe(true);
      // While they are held, cycles still run (each needs descriptors for the lock, ip, ping).
      const before = await cyclesDone();
      expect(await waitFor(async () => (await cyclesDone()) >= before + 3, 60_000)).toBe(true);
      // The idle ones are closed by the server, not by the clients.
      expect(await waitFor(() => out.includes('closed'), 60_000), out).toBe(true);
      expect((await hog).exitCode).toBe(0);
      expect(await scrape()).toMatch(/^200 \d+/);
      expect(run.exitCode).toBeNull(); // still running
      expect(await problems()).toEqual([]);
    } finally {
      run.kill('SIGTERM');
    }
    expect((await run).exitCode).toBe(0);
  }, 180_000);

  it('no descriptor left for a spawn, or none at all: each failed cycle is logged, nothing crashes, and it recovers', async () => {
    const run = daemon(1024);
    try {
      expect(await waitFor(async () => (await cyclesDone()) >= 1)).toBe(true);
      const pid = run.pid!;
      // Descriptors are numbered from the lowest free one: a soft limit just above it leaves
      // exactly one (the lock file takes it, so flock(1) cannot get its pipes); a limit at it
      // leaves none. Soft limits only, so that they can be raised again.
      // A cycle holds a few descriptors for a moment: the lowest number seen free in 20 looks,
      // 50 ms apart, is the one free between cycles.
      let lowestFree = Number.POSITIVE_INFINITY;
      for (let look = 0; look < 20; look++) {
        const open = new Set((await readdir(`/proc/${pid}/fd`)).map(Number));
        let free = 0;
        while (open.has(free)) free++;
        lowestFree = Math.min(lowestFree, free);
        await sleep(50);
      }
      const limit = (soft: number) => execa('prlimit', ['--pid', String(pid), `--nofile=${soft}:1024`]);
      const logged = async (pattern: RegExp) => (await h.logLines()).filter((line) => pattern.test(line)).length;

      await limit(lowestFree + 1);
      const spawnFailed = /ERROR cycle failed: cannot take the cycle lock: spawn flock: too many open files/;
      expect(await waitFor(async () => (await logged(spawnFailed)) >= 2, 60_000), (await h.logLines()).slice(-3).join('\n')).toBe(true);
      await limit(lowestFree);
      const lockFailed = /ERROR cycle failed: EMFILE: too many open files, open '.*turnstile-net-\d+'/;
      expect(await waitFor(async () => (await logged(lockFailed)) >= 2, 60_000), (await h.logLines()).slice(-3).join('\n')).toBe(true);
      expect(await scrape()).not.toMatch(/^200/);
      expect(run.exitCode).toBeNull(); // still running

      await limit(1024);
      const before = await cyclesDone();
      expect(await waitFor(async () => (await cyclesDone()) >= before + 2, 60_000)).toBe(true);
      expect(await scrape()).toMatch(/^200 \d+/);
    } finally {
      run.kill('SIGTERM');
    }
    const result = await run;
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toBe('');
  }, 180_000);
});
