// The cycle lock on a namespace network: a local user cannot take, hold or fake it; a kill -9
// leaves no stale lock; namespaces do not block each other; a cron run behind a busy daemon gets
// its turn. netgwm locks in the harness's directory ($NETGWM_LOCK_DIR), laid out as
// /run/netgwm/lock is: a 0755 parent, the lock directory itself 0700.
import { chmod, readdir, rm } from 'node:fs/promises';
import { execa } from 'execa';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { holdLock } from '../support/lock-holder.js';
import { Harness, waitFor } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await Harness.create();
  await chmod(h.dir, 0o755); // only the lock directory's own mode keeps others out
});
afterAll(async () => {
  await h?.destroy();
});
afterEach(async () => {
  await rm(h.logFile(), { force: true });
  for (const uplink of h.net.uplinks) await h.net.restoreOperator(uplink.index);
  await h.writeConfig({});
});

/** argv prefix: run as nobody (uid and gid 65534, no groups, no capabilities) in `ns`. */
const asNobody = (ns: string) => [
  'ip',
  'netns',
  'exec',
  ns,
  'setpriv',
  '--reuid=65534',
  '--regid=65534',
  '--clear-groups',
  '--inh-caps=-all',
];

describe('the cycle lock', () => {
  it('an unprivileged user in the router namespace can neither take, hold nor fake it', async () => {
    expect((await h.run()).exitCode).toBe(0); // the lock directory and files exist now
    const [file, ...args] = asNobody(h.net.routerNs);
    const lockFiles = (await readdir(h.lockDir())).map((name) => `${h.lockDir()}/${name}`);
    expect(lockFiles).toHaveLength(2); // cycle-net-INODE and turnstile-net-INODE
    // What they could do before: bind the abstract socket name the lock was, and hold it.
    const squatter = execa(
      file!,
      [
        ...args,
        process.execPath,
        '-e',
        "require('net').createServer().listen({ path: '\\0netgwm/cycle' }, () => console.log('bound')); setTimeout(() => {}, 600000)",
      ],
      { reject: false, timeout: 60_000 },
    );
    try {
      await new Promise((done) => squatter.stdout!.once('data', done));
      for (const attempt of [
        ...lockFiles.map((path) => ['flock', '-n', path, 'true']),
        ['touch', `${h.lockDir()}/cycle-net-1`],
        ['ls', h.lockDir()],
      ]) {
        const result = await execa(file!, [...args, ...attempt], { reject: false, timeout: 10_000 });
        expect(result.stderr, attempt.join(' ')).toMatch(/Permission denied/);
      }
      // netgwm itself, run by them, refuses the directory that is not theirs.
      await expect(holdLock({ dir: h.lockDir(), prefix: asNobody(h.net.routerNs) })).rejects.toThrow(
        /cannot take the cycle lock: \S+ \(its parent\) is owned by uid 0, not 65534/,
      );
      // Cycles go on as if they were not there.
      await h.net.failOperator(1);
      expect(await h.netgwm(['run', '--wait', '0'])).toMatchObject({ exitCode: 0 });
      expect(await h.currentGateway()).toBe('isp2');
    } finally {
      squatter.kill('SIGKILL');
      await squatter;
    }
  });

  it('netgwm killed with -9 while holding it leaves no stale lock', async () => {
    await h.run();
    // isp1 dead and a long timeout: the run sits in the probe of isp1, holding the lock.
    await h.writeConfig({ probe: { timeout: 5 } });
    await h.net.failOperator(1);
    expect((await h.netgwm(['cleanup'])).exitCode).toBe(0);
    const victim = h.start(['run']);
    // The paths back in place: the victim holds the lock.
    expect(await waitFor(() => h.probePathsInPlace())).toBe(true);
    expect((await h.netgwm(['run', '--wait', '0'])).exitCode).toBe(75);
    victim.kill('SIGKILL');
    await victim;
    await h.writeConfig({});
    expect((await h.netgwm(['run', '--wait', '0'])).exitCode).toBe(0);
  });

  it('separates network namespaces: a holder in another namespace blocks nothing here', async () => {
    const elsewhere = await holdLock({ dir: h.lockDir(), prefix: ['ip', 'netns', 'exec', h.net.uplinks[0]!.operatorNs] });
    try {
      expect((await h.netgwm(['run', '--wait', '0'])).exitCode).toBe(0);
    } finally {
      await elsewhere.stop();
    }
    const here = await holdLock({ dir: h.lockDir(), prefix: ['ip', 'netns', 'exec', h.net.routerNs] });
    try {
      expect((await h.netgwm(['run', '--wait', '0'])).exitCode).toBe(75);
    } finally {
      await here.stop();
    }
  });

  it('cron runs behind a daemon whose cycles run back to back each get their turn', async () => {
    // Every cycle probes the dead isp3 for 1 s and the next one starts at once.
    await h.writeConfig({ probe: { timeout: 1 }, check_all_gateways: true });
    await h.net.failOperator(3);
    const daemon = h.daemon(['--interval', '0.01']);
    try {
      expect(await waitFor(async () => (await h.logLines()).some((line) => line.includes('DEBUG cycle done')))).toBe(true);
      // --wait 60 is a hang guard: each run waits for at most two daemon cycles (about 2 s).
      for (let i = 0; i < 3; i++) {
        const run = await h.netgwm(['run', '--wait', '60'], { timeoutMs: 90_000 });
        expect(run, `run ${i}`).toMatchObject({ exitCode: 0 });
      }
    } finally {
      daemon.kill('SIGTERM');
      await daemon;
    }
    expect((await h.logLines()).join('\n')).not.toMatch(/left behind|another netgwm cycle/);
  });
});
