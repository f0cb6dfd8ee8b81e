// A clean Debian root for package tests: `debootstrap --variant=minbase SUITE` plus systemd
// and the packages a test asks for, made once by scripts/debian-root.sh and kept as a tarball in
// its cache directory, then unpacked afresh for every test. The test boots it with systemd-nspawn
// inside a network namespace it made, and runs commands inside through nsenter, as an admin
// would; nothing is ever mounted on the host, so the root is deleted as a plain directory.
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readdir, readlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { waitFor } from '../e2e/harness.js';

const SCRIPTS = fileURLToPath(new URL('../../scripts/', import.meta.url));
const POLICY_RC_D = '/usr/sbin/policy-rc.d';
const ROOT_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C', HOME: '/root', DEBIAN_FRONTEND: 'noninteractive' };

/**
 * Files that change with any package or by the system running, not by netgwm: apt's, dpkg's, the
 * kernel's, the journal's and systemd's timer stamps.
 */
const NOT_COMPARED = [
  'proc',
  'sys',
  'dev',
  'run',
  'tmp',
  'var/cache',
  'var/lib/apt',
  'var/lib/dpkg',
  'var/log/apt',
  'var/log/dpkg.log',
  'var/log/alternatives.log',
  'var/log/journal',
  'var/lib/systemd/timers',
  'var/lib/systemd/random-seed',
  'var/lib/logrotate',
];

export interface RootExecOptions {
  /** Reject on a non-zero exit (default true). */
  reject?: boolean;
  timeoutMs?: number;
}

export interface RootResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export class DebianRoot {
  private constructor(readonly dir: string) {}

  /**
   * Unpacks a fresh root of Debian `suite` (bookworm, trixie…) with `packages` installed
   * (debootstrapping and caching the root first if there is none with them).
   */
  static async create(suite: string, packages: string[] = []): Promise<DebianRoot> {
    const tarball = (
      await execa(join(SCRIPTS, 'debian-root.sh'), [suite, ...packages], { timeout: 1_200_000, stderr: 'inherit' })
    ).stdout.trim();
    const root = new DebianRoot(await mkdtemp(join(tmpdir(), 'netgwm-debian-root-')));
    try {
      await execa('tar', ['-C', root.dir, '-xf', tarball], { timeout: 300_000 });
      // Booted, D-Bus refuses a root directory that only root may enter (mkdtemp's 0700).
      await chmod(root.dir, 0o755);
    } catch (error) {
      await root.destroy();
      throw error;
    }
    return root;
  }

  /** The host path of `path` inside the root. */
  path(path: string): string {
    return join(this.dir, path);
  }

  /** Every path in the root, relative to it, less the files no package owns (NOT_COMPARED). */
  async files(): Promise<string[]> {
    // find, not a recursive readdir: that would follow var/run -> /run out of the root.
    const { stdout } = await execa('find', [this.dir, '-mindepth', '1', '-printf', '%P\\n'], { timeout: 120_000 });
    return stdout
      .split('\n')
      .filter((entry) => entry && !NOT_COMPARED.some((skip) => entry === skip || entry.startsWith(`${skip}/`)))
      .sort();
  }

  /** Boots the root with systemd in network namespace `netns`; see BootedRoot. */
  boot(netns: string): Promise<BootedRoot> {
    return BootedRoot.boot(this, netns);
  }

  /** Deletes the root; it never has anything mounted in it on the host. */
  async destroy(): Promise<void> {
    if (relative(tmpdir(), this.dir).startsWith('..')) throw new Error(`refusing to delete ${this.dir}: not under ${tmpdir()}`);
    await execa('rm', ['-rf', '--one-file-system', this.dir], { reject: false, timeout: 120_000 });
  }
}

/** How long booting, or a clean shutdown, may take on a loaded machine before the test gives up. */
const BOOT_GUARD_MS = 120_000;

/**
 * The root booted with systemd as PID 1 (`systemd-nspawn -b`), in a network namespace the test
 * made, with the capabilities a router's daemon needs. The host does not have to run systemd:
 * nspawn is not registered with a machined, and commands enter the container with nsenter.
 * shutdown() stops it cleanly, or kills every process of its PID namespace; a safety net does the
 * latter if the test process exits first.
 */
export class BootedRoot {
  private constructor(
    readonly root: DebianRoot,
    private readonly nspawn: ResultPromise,
    /** The container's PID 1, as the host sees it. */
    readonly leader: number,
    private readonly pidNamespace: string,
  ) {}

  static async boot(root: DebianRoot, netns: string): Promise<BootedRoot> {
    if (existsSync(root.path(POLICY_RC_D)))
      throw new Error(`${root.path(POLICY_RC_D)} exists: services would not start in the booted root`);
    const nspawn = execa(
      'systemd-nspawn',
      [
        '-b',
        '--register=no',
        '--keep-unit',
        '--capability=CAP_NET_ADMIN,CAP_NET_RAW',
        `--network-namespace-path=/run/netns/${netns}`,
        '-D',
        root.dir,
      ],
      { stdin: 'ignore', all: true, reject: false, buffer: false },
    );
    // Its console (systemd's boot messages), for the error when booting fails.
    let consoleTail = '';
    nspawn.all?.on('data', (chunk: Buffer) => {
      consoleTail = (consoleTail + chunk.toString()).slice(-3000);
    });
    const exited = () => nspawn.exitCode !== null;
    let leader: number | undefined;
    const findLeader = async () => {
      const found = await execa('pgrep', ['-P', String(nspawn.pid), '-x', 'systemd'], { reject: false });
      leader = found.exitCode === 0 ? Number(found.stdout.split('\n')[0]) : undefined;
      return leader !== undefined || exited();
    };
    if (!(await waitFor(findLeader, BOOT_GUARD_MS)) || leader === undefined) {
      nspawn.kill('SIGKILL');
      await nspawn;
      throw new Error(`systemd-nspawn did not start systemd in ${root.dir}:\n${consoleTail}`);
    }
    const booted = new BootedRoot(root, nspawn, leader, await readlink(`/proc/${leader}/ns/pid`));
    live.add(booted);
    installSafetyNet();
    // Until systemd listens, systemctl cannot ask it; then --wait waits for the boot to finish.
    let state: RootResult | undefined;
    const systemState = async () => {
      state = await booted.run(['systemctl', 'is-system-running', '--wait'], { reject: false, timeoutMs: BOOT_GUARD_MS });
      return ['running', 'degraded'].includes(state.stdout.trim());
    };
    if (!(await waitFor(systemState, BOOT_GUARD_MS))) {
      await booted.shutdown();
      throw new Error(`the booted root is "${state?.stdout.trim()}" (${state?.stderr.trim()}), not running:\n${consoleTail}`);
    }
    return booted;
  }

  /** `argv` inside the booted root (all its namespaces), with a clean environment. */
  async run(argv: string[], options: RootExecOptions = {}): Promise<RootResult> {
    const env = Object.entries(ROOT_ENV).map(([key, value]) => `${key}=${value}`);
    const result = await execa('nsenter', ['-t', String(this.leader), '-a', 'env', '-i', ...env, ...argv], {
      env: ROOT_ENV,
      extendEnv: false,
      stdin: 'ignore',
      reject: false,
      timeout: options.timeoutMs ?? 300_000,
    });
    const outcome = { stdout: String(result.stdout), stderr: String(result.stderr), exitCode: result.exitCode ?? -1 };
    if (outcome.exitCode !== 0 && options.reject !== false) {
      throw new Error(
        `in the booted root: \`${argv.join(' ')}\` exited ${outcome.exitCode}:\n${outcome.stderr.slice(-2000)}\n${outcome.stdout.slice(-2000)}`,
      );
    }
    return outcome;
  }

  /** Host PIDs of the processes still in the container's PID namespace. */
  async processesLeft(): Promise<number[]> {
    const pids = (await readdir('/proc')).filter((entry) => /^\d+$/.test(entry));
    const inside = await Promise.all(
      pids.map(async (pid) => ((await readlink(`/proc/${pid}/ns/pid`).catch(() => '')) === this.pidNamespace ? Number(pid) : undefined)),
    );
    return inside.filter((pid): pid is number => pid !== undefined);
  }

  /**
   * Shuts the container down cleanly (nspawn turns SIGTERM into an orderly poweroff); if that
   * hangs, kills its PID 1, which takes every process of the container with it. Throws if any
   * process of the container is left.
   */
  async shutdown(): Promise<void> {
    live.delete(this);
    if (this.nspawn.exitCode === null) {
      this.nspawn.kill('SIGTERM');
      const guard = setTimeout(() => this.kill(), BOOT_GUARD_MS);
      await this.nspawn;
      clearTimeout(guard);
    }
    // PID 1 is gone with nspawn, and the kernel kills the rest of its PID namespace: soon none left.
    const allGone = async () => (await this.processesLeft()).length === 0;
    if (await waitFor(allGone, 10_000)) return;
    this.kill();
    if (await waitFor(allGone, 10_000)) return;
    throw new Error(`processes of the container in ${this.root.dir} are left: ${(await this.processesLeft()).join(', ')}`);
  }

  /** SIGKILL to PID 1 of the container (the kernel kills the rest of its PID namespace) and nspawn. */
  kill(): void {
    for (const pid of [this.leader, this.nspawn.pid]) {
      try {
        if (pid) process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }
}

/** Containers still running, for the safety net. */
const live = new Set<BootedRoot>();
let safetyNetInstalled = false;

// A test process that dies must not leave a booted container behind.
function installSafetyNet(): void {
  if (safetyNetInstalled) return;
  safetyNetInstalled = true;
  const killAll = () => {
    for (const booted of live) booted.kill();
  };
  process.once('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      killAll();
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  }
}
