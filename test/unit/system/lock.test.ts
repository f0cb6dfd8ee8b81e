import { chmod, chown, lstat, mkdir, readlink, stat, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { LockBusyError } from '../../../src/errors.js';
import { acquireLock, LOCK_DIR } from '../../../src/system/lock.js';
import { holdLock } from '../../support/lock-holder.js';
import { tempDir } from '../../support/temp-dir.js';

// A directory of this test's own: the host's /run/netgwm/lock is never touched. Its parent is
// 0755, as /run/netgwm is, so that only the lock directory's own mode keeps others out.
async function lockDir(): Promise<string> {
  const parent = await tempDir('lock');
  await chmod(parent, 0o755);
  return join(parent, 'lock');
}

const namespaceKey = async () => `net-${/\d+/.exec(await readlink('/proc/self/ns/net'))![0]}`;
/** Whether someone holds a flock on `file` now (flock -n exits 1 then). */
const isLocked = async (file: string) => (await execa('flock', ['-n', file, 'true'], { reject: false })).exitCode === 1;
const NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];

describe('acquireLock', () => {
  it('one holder at a time; the next waits, then gives up with LockBusyError', async () => {
    const dir = await lockDir();
    const held = await acquireLock({ waitMs: 0, dir });
    await expect(acquireLock({ waitMs: 300, dir })).rejects.toThrow(LockBusyError);
    await expect(acquireLock({ waitMs: 0, dir })).rejects.toThrow(LockBusyError);
    await held.release();
    await (await acquireLock({ waitMs: 0, dir })).release();
  });

  it('a waiter gets the lock as soon as it is released; an abort ends a wait as busy', async () => {
    const dir = await lockDir();
    const held = await acquireLock({ waitMs: 0, dir });
    const stop = new AbortController();
    const aborted = acquireLock({ waitMs: 600_000, dir, signal: stop.signal });
    const next = acquireLock({ waitMs: 600_000, dir });
    stop.abort();
    await expect(aborted).rejects.toThrow(LockBusyError);
    await held.release();
    await (await next).release();
  });

  it('lives in a directory only its owner can enter, in a file named after the network namespace', async () => {
    const dir = await lockDir();
    const held = await acquireLock({ waitMs: 0, dir });
    const file = join(dir, `cycle-${await namespaceKey()}`);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await isLocked(file)).toBe(true);
    await held.release();
    expect(await isLocked(file)).toBe(false);
    expect(LOCK_DIR).toBe('/run/netgwm/lock');
  });

  it('an unprivileged user can neither take, hold nor fake it', async () => {
    const dir = await lockDir();
    await (await acquireLock({ waitMs: 0, dir })).release();
    const file = join(dir, `cycle-${await namespaceKey()}`);
    // Lock the real file, create a file of their own there, or take the lock the way netgwm does.
    for (const attempt of [
      ['flock', '-n', file, 'sleep', '600'],
      ['touch', join(dir, 'cycle-net-1')],
      ['flock', '-n', '-E', '75', join(dir, 'turnstile-x'), 'true'],
    ]) {
      const result = await execa(NOBODY[0]!, [...NOBODY.slice(1), ...attempt], { reject: false, timeout: 10_000 });
      expect(result.exitCode, attempt.join(' ')).not.toBe(0);
      expect(result.stderr).toMatch(/Permission denied/);
    }
    // netgwm itself, run by them, refuses: the directory is not theirs.
    await expect(holdLock({ dir, prefix: NOBODY })).rejects.toThrow(/cannot take the cycle lock: .* is owned by uid 0, not 65534/);
    // What stopped every cycle before: the abstract socket name the old lock used, held by nobody.
    const squatter = execa(
      NOBODY[0]!,
      [
        ...NOBODY.slice(1),
        process.execPath,
        '-e',
        "require('net').createServer().listen({ path: '\\0netgwm/cycle' }, () => console.log('bound')); setTimeout(() => {}, 600000)",
      ],
      { reject: false, timeout: 60_000 },
    );
    try {
      await new Promise((done) => squatter.stdout!.once('data', done));
      await (await acquireLock({ waitMs: 0, dir })).release();
    } finally {
      squatter.kill('SIGKILL');
      await squatter;
    }
  });

  it('refuses a lock directory that someone else owns or can write to, saying how to fix it', async () => {
    const dir = await lockDir();
    await mkdir(dir, { mode: 0o700 });
    await chown(dir, 65534, 65534);
    await expect(acquireLock({ waitMs: 0, dir })).rejects.toThrow(
      `cannot take the cycle lock: ${dir} (the lock directory) is owned by uid 65534, not 0; someone could fake the lock there. Fix: \`chown root ${dir}; chmod go-w ${dir}\`, or remove it`,
    );
    await chown(dir, 0, 0);
    await chmod(join(dir, '..'), 0o777);
    await expect(acquireLock({ waitMs: 0, dir })).rejects.toThrow(/\(its parent\) is writable by group or others \(mode 777\)/);
    await chmod(join(dir, '..'), 0o755);
    // A lock file planted as a symlink is never followed.
    await symlink('/etc/passwd', join(dir, `cycle-${await namespaceKey()}`));
    await expect(acquireLock({ waitMs: 0, dir })).rejects.toThrow(/ELOOP/);
    expect((await lstat('/etc/passwd')).isFile()).toBe(true);
  });

  it('a holder killed with -9 leaves no stale lock', async () => {
    const dir = await lockDir();
    const holder = await holdLock({ dir });
    await expect(acquireLock({ waitMs: 0, dir })).rejects.toThrow(LockBusyError);
    holder.process.kill('SIGKILL');
    await holder.process;
    await (await acquireLock({ waitMs: 0, dir })).release();
  });

  it('network namespaces do not block each other', async () => {
    const dir = await lockDir();
    // A new, empty network namespace that dies with the holder.
    const elsewhere = await holdLock({ dir, prefix: ['unshare', '--net'] });
    try {
      await (await acquireLock({ waitMs: 0, dir })).release();
    } finally {
      await elsewhere.stop();
    }
  });

  it('a holder that releases and takes the lock again at once lets a waiting one go first', async () => {
    const dir = await lockDir();
    const order: string[] = [];
    let held = await acquireLock({ waitMs: 0, dir });
    const waiter = acquireLock({ waitMs: 600_000, dir }).then(async (lock) => {
      order.push('waiter');
      await lock.release();
    });
    // The waiter is in line once it holds the turnstile.
    const turnstile = join(dir, `turnstile-${await namespaceKey()}`);
    for (let i = 0; i < 600 && !(await isLocked(turnstile)); i++) await new Promise((done) => setTimeout(done, 50));
    expect(await isLocked(turnstile)).toBe(true);
    await held.release();
    held = await acquireLock({ waitMs: 600_000, dir });
    order.push('holder again');
    await held.release();
    await waiter;
    expect(order).toEqual(['waiter', 'holder again']);
  });
});
