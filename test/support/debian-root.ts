// A clean Debian 12 root for package tests: `debootstrap --variant=minbase bookworm` plus systemd
// (for systemd-analyze), made once and kept as a tarball in the cache directory, then unpacked
// afresh for every test. Commands run chrooted through in-root.sh, optionally inside a network
// namespace; nothing is mounted on the host, and the host's /etc is only read (resolv.conf).
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

/** Kept between runs: the root tarball and apt's downloads. Override with NETGWM_TEST_CACHE. */
export const CACHE_DIR = process.env.NETGWM_TEST_CACHE ?? '/var/cache/netgwm-test';
const MIRROR = process.env.NETGWM_TEST_MIRROR ?? 'http://deb.debian.org/debian';
const SUITE = 'bookworm';
const TARBALL = join(CACHE_DIR, `${SUITE}-minbase-systemd.tar`);
const APT_ARCHIVES = join(CACHE_DIR, 'apt-archives');
const IN_ROOT = fileURLToPath(new URL('in-root.sh', import.meta.url));

// What a Debian 12 installation uses; debootstrap itself writes only the first line.
const SOURCES = `deb ${MIRROR} ${SUITE} main
deb ${MIRROR} ${SUITE}-updates main
deb ${MIRROR}-security ${SUITE}-security main
`;
// The usual chroot guard: maintainer scripts may not start services here.
const POLICY_RC_D = '#!/bin/sh\nexit 101\n';
const ROOT_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C', HOME: '/root', DEBIAN_FRONTEND: 'noninteractive' };

/** apt's, dpkg's and the kernel's own files: they change with any package, they are not netgwm's. */
const NOT_COMPARED = ['proc', 'sys', 'dev', 'run', 'tmp', 'var/cache', 'var/lib/apt', 'var/lib/dpkg', 'var/log/apt', 'var/log/dpkg.log', 'var/log/alternatives.log'];

export interface RootExecOptions {
  /** Run inside this network namespace (one the test created). */
  netns?: string;
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

  /** Unpacks a fresh root (debootstrapping the cached tarball first if there is none). */
  static async create(): Promise<DebianRoot> {
    await ensureTarball();
    const root = new DebianRoot(await mkdtemp(join(tmpdir(), 'netgwm-debian-root-')));
    try {
      await execa('tar', ['-C', root.dir, '-xf', TARBALL], { timeout: 120_000 });
      // Name resolution for apt: whatever the host uses today.
      await copyFile('/etc/resolv.conf', root.path('/etc/resolv.conf'));
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

  /** `argv` chrooted into the root, with a clean environment and apt's download cache. */
  async run(argv: string[], options: RootExecOptions = {}): Promise<RootResult> {
    const netns = options.netns ? ['ip', 'netns', 'exec', options.netns] : [];
    const [file, ...args] = [...netns, IN_ROOT, this.dir, ...argv];
    const result = await execa(file!, args, {
      env: { ...ROOT_ENV, APT_ARCHIVES },
      extendEnv: false,
      stdin: 'ignore',
      reject: false,
      timeout: options.timeoutMs ?? 300_000,
    });
    const outcome = { stdout: String(result.stdout), stderr: String(result.stderr), exitCode: result.exitCode ?? -1 };
    if (outcome.exitCode !== 0 && options.reject !== false) {
      throw new Error(`in the Debian root: \`${argv.join(' ')}\` exited ${outcome.exitCode}:\n${outcome.stderr.slice(-2000)}\n${outcome.stdout.slice(-2000)}`);
    }
    return outcome;
  }

  /** Every path in the root, relative to it, less apt's, dpkg's and the kernel's bookkeeping. */
  async files(): Promise<string[]> {
    // find, not a recursive readdir: that would follow var/run -> /run out of the root.
    const { stdout } = await execa('find', [this.dir, '-mindepth', '1', '-printf', '%P\\n'], { timeout: 120_000 });
    return stdout.split('\n').filter((entry) => entry && !NOT_COMPARED.some((skip) => entry === skip || entry.startsWith(`${skip}/`))).sort();
  }

  /** Deletes the root; it never has anything mounted in it on the host. */
  async destroy(): Promise<void> {
    if (relative(tmpdir(), this.dir).startsWith('..')) throw new Error(`refusing to delete ${this.dir}: not under ${tmpdir()}`);
    await execa('rm', ['-rf', '--one-file-system', this.dir], { reject: false, timeout: 120_000 });
  }
}

/** debootstraps into a scratch directory, then renames the tarball into place. */
async function ensureTarball(): Promise<void> {
  await mkdir(join(APT_ARCHIVES, 'partial'), { recursive: true });
  if (existsSync(TARBALL)) return;
  const build = await mkdtemp(join(CACHE_DIR, 'build-'));
  try {
    // Under unshare, the /proc and /sys that debootstrap mounts die with it, even if it is killed.
    await execa('unshare', ['--mount', '--propagation', 'private', 'debootstrap', '--variant=minbase', '--include=systemd', SUITE, build, MIRROR], { timeout: 900_000 });
    await writeFile(join(build, 'etc/apt/sources.list'), SOURCES);
    await writeFile(join(build, 'usr/sbin/policy-rc.d'), POLICY_RC_D, { mode: 0o755 });
    await rm(join(build, 'var/cache/apt/archives'), { recursive: true, force: true });
    await mkdir(join(build, 'var/cache/apt/archives/partial'), { recursive: true });
    const partial = `${TARBALL}.${process.pid}`;
    await execa('tar', ['-C', build, '-cf', partial, '.'], { timeout: 300_000 });
    await rename(partial, TARBALL);
  } finally {
    await execa('rm', ['-rf', '--one-file-system', build], { reject: false, timeout: 120_000 });
  }
}
