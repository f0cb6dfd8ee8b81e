// One cycle at a time per network namespace (cron and the daemon, or two crons).
//
// The lock is flock(2) on a file in a directory only root can enter (/run/netgwm/lock, 0700):
// - nobody else can take, hold or fake it: an unprivileged user can neither open the file (flock
//   needs an open file, nothing more) nor put one there. (The earlier abstract Unix socket had no
//   permissions at all: any local user could bind its name and stop every cycle.)
// - it never goes stale: the kernel drops a flock when the last descriptor of the open file goes,
//   so a holder killed with -9 frees it at once; the empty file that stays is harmless and is
//   never deleted (deleting a lock file lets two processes lock two different files).
// - it separates network namespaces, which are what a cycle changes: the file is named after the
//   namespace's inode (`cycle-net-4026531840`), since /run is shared with `ip netns exec`.
// - a cron run behind a daemon whose cycles run back to back gets its turn: whoever waits for
//   the lock holds a second lock, the turnstile, and every taker passes the turnstile first, so a
//   releasing holder cannot take the lock again ahead of someone already waiting.
// Node has no flock(), so util-linux's flock(1) (Debian: essential; one process tree a cycle)
// locks the open file that netgwm passes it as descriptor 3: the lock belongs to that open file,
// and so stays with netgwm when flock exits. Node opens files close-on-exec: hooks never inherit it.
// `lslocks | grep netgwm` shows who holds it.
import { constants } from 'node:fs';
import { chmod, lstat, mkdir, open, readlink, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { LockBusyError } from '../errors.js';
import { commandPath } from './command-path.js';
import { startProcess } from './spawn-guard.js';

export const LOCK_DIR = '/run/netgwm/lock';
/** Exit code flock(1) gives for "not acquired within -w" (EX_TEMPFAIL, as netgwm's own). */
const BUSY_EXIT = 75;

export interface Lock {
  release(): Promise<void>;
}

/**
 * `cycle`: one cycle at a time (run, daemon, cleanup, hooks). `role`: one `netgwm role` at a time
 * (calls overlap when keepalived's per-instance notify starts one without waiting for the last;
 * conntrackd skips a commit while another runs, answering at once, so an overlapping master
 * sequence would flush before the commit ended).
 */
export type LockName = 'cycle' | 'role';

export interface LockOptions {
  waitMs: number;
  /** Which lock; default `cycle`. */
  name?: LockName;
  /** The lock directory: LOCK_DIR unless `$NETGWM_LOCK_DIR` (tests, containers) names another. */
  dir?: string;
  signal?: AbortSignal;
}

export async function acquireLock(options: LockOptions): Promise<Lock> {
  const dir = options.dir ?? process.env.NETGWM_LOCK_DIR ?? LOCK_DIR;
  const name = options.name ?? 'cycle';
  await preparePrivateDir(dir, name);
  const key = await namespaceKey();
  // The cycle lock's files keep their names of old (a running netgwm of the last version uses them).
  const turnstile = join(dir, name === 'cycle' ? `turnstile-${key}` : `${name}-turnstile-${key}`);
  await (await openLockFile(turnstile, name)).close(); // made and checked here; flock opens it by name
  const file = await openLockFile(join(dir, `${name}-${key}`), name);
  try {
    await lockThroughTurnstile(file, turnstile, { ...options, name });
  } catch (error) {
    await file.close();
    throw error;
  }
  return { release: () => file.close() };
}

/** `net-4026531840`: this process's network namespace, by inode. */
async function namespaceKey(): Promise<string> {
  const link = await readlink('/proc/self/ns/net');
  const inode = /\[(\d+)\]/.exec(link)?.[1];
  if (!inode) throw new Error(`cannot tell the network namespace: /proc/self/ns/net is "${link}"`);
  return `net-${inode}`;
}

/**
 * Makes `dir` (its parent 0755, itself 0700) and checks that only this user can change either:
 * a directory someone else owns or can write to could hold a lock file they control.
 */
async function preparePrivateDir(dir: string, name: LockName): Promise<void> {
  const parent = dirname(dir);
  await mkdir(parent, { recursive: true, mode: 0o755 });
  await mkdir(dir, { mode: 0o700 }).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EEXIST') throw error;
  });
  const uid = process.geteuid?.() ?? 0;
  for (const [path, what] of [
    [parent, 'its parent'],
    [dir, 'the lock directory'],
  ] as const) {
    const info = await lstat(path);
    const problem = !info.isDirectory()
      ? 'is not a directory'
      : info.uid !== uid
        ? `is owned by uid ${info.uid}, not ${uid}`
        : (info.mode & 0o022) !== 0
          ? `is writable by group or others (mode ${(info.mode & 0o7777).toString(8)})`
          : undefined;
    if (problem)
      throw new Error(
        `cannot take the ${name} lock: ${path} (${what}) ${problem}; someone could fake the lock there. Fix: \`chown root ${path}; chmod go-w ${path}\`, or remove it`,
      );
  }
  const own = await lstat(dir);
  if ((own.mode & 0o077) !== 0) await chmod(dir, 0o700); // ours and not writable by others: only closing it
}

/** Opens (creating, 0600) a lock file, never through a symlink, and checks it is ours. */
async function openLockFile(path: string, name: LockName): Promise<FileHandle> {
  const file = await open(path, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
  const info = await file.stat();
  if (!info.isFile() || info.uid !== (process.geteuid?.() ?? 0)) {
    await file.close();
    throw new Error(`cannot take the ${name} lock: ${path} is not a regular file owned by this user; remove it`);
  }
  return file;
}

/**
 * `flock -w S TURNSTILE flock -w S 3`, one process tree: the outer flock holds the turnstile while
 * the inner one waits for the lock on netgwm's open file (descriptor 3); both exit once it is
 * taken, which lets the turnstile go. Whoever waits holds the turnstile, so the holder that just
 * released cannot take the lock again first. netgwm ends both (as a process group) when `waitMs`
 * is over or the signal aborts; their own -w ends them should netgwm die first.
 */
async function lockThroughTurnstile(file: FileHandle, turnstile: string, options: LockOptions & { name: LockName }): Promise<void> {
  const wait = ['-E', String(BUSY_EXIT), '-w', String(options.waitMs / 1000)];
  const child = startProcess('flock', () =>
    execa('flock', [...wait, '--close', turnstile, 'flock', ...wait, '3'], {
      // execa hands an integer straight to child_process.spawn; its types only list 0-9.
      stdio: ['ignore', 'ignore', 'pipe', file.fd as 3],
      detached: true, // a process group of its own, to end as one
      reject: false,
      env: { LC_ALL: 'C', PATH: commandPath() },
    }),
  );
  if (child instanceof Error) throw new Error(`cannot take the ${options.name} lock: ${child.message}`);
  let ended = false;
  const end = () => {
    ended = true;
    try {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // ESRCH: both flocks had exited already.
    }
  };
  // With no wait, both flocks answer at once; otherwise one deadline covers both waits.
  const deadline = options.waitMs > 0 ? setTimeout(end, options.waitMs) : undefined;
  options.signal?.addEventListener('abort', end, { once: true });
  if (options.signal?.aborted) end();
  const result = await child;
  clearTimeout(deadline);
  options.signal?.removeEventListener('abort', end);
  // Ended just as flock took the lock: the caller closes the file, which drops it again.
  if (result.exitCode === 0 && !ended) return;
  if (ended || result.exitCode === BUSY_EXIT) throw new LockBusyError(`another netgwm ${options.name} holds the lock`);
  const why =
    result.code === 'ENOENT'
      ? 'flock(1) is not installed (Debian package util-linux)'
      : `flock exited ${result.exitCode ?? result.signal}: ${String(result.stderr).trim()}`;
  throw new Error(`cannot take the ${options.name} lock: ${why}`);
}
