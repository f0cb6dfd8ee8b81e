// `npm run bench`: how fast and how big netgwm is, on a throw-away namespace network. Tests assert
// behaviour only; every time and memory figure is measured here, side by side in one run so that
// the ratios hold on a loaded machine even when the absolute numbers do not.
//   1. hyperfine: Node's own start, `netgwm --version`, a healthy `netgwm run`;
//   2. hyperfine: `netgwm status` while a real cycle holds the lock, against `netgwm --version`;
//   3. whole `netgwm run` processes that fail over or find every uplink dead (3×2 and 8×4);
//   4. how soon the daemon exits on SIGTERM in the middle of a long probe and of a hanging hook;
//   5. peak memory (max RSS) of a healthy run and of `netgwm status`.
// Prints figures; asserts nothing. Needs root, hyperfine and GNU time (scripts/setup.sh bench).
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { stringify } from 'yaml';
import { TestNetwork } from './testnet/network.js';

const NETGWM = fileURLToPath(new URL('../bin/netgwm', import.meta.url));
const REPEAT = Number(process.env.BENCH_REPEAT ?? 7);

/** A network, a config file and a way to run netgwm in the router namespace. */
class Bench {
  private constructor(
    readonly net: TestNetwork,
    readonly dir: string,
  ) {}

  static async create(uplinks: number, sites: number): Promise<Bench> {
    const bench = new Bench(await TestNetwork.create({ uplinks, sites }), await mkdtemp(join(tmpdir(), 'netgwm-bench-')));
    await mkdir(join(bench.dir, 'post-replace.d'));
    await bench.writeConfig();
    return bench;
  }

  config = (name = 'netgwm') => join(this.dir, `${name}.yml`);

  async writeConfig(extra: Record<string, unknown> = {}, name = 'netgwm'): Promise<void> {
    const config = {
      gateways: Object.fromEntries(
        this.net.uplinks.map((uplink) => [`isp${uplink.index}`, { ip: uplink.gatewayIp, priority: uplink.index }]),
      ),
      min_uptime: 0,
      check_sites: this.net.sites,
      state_dir: join(this.dir, 'state'),
      log_file: join(this.dir, 'netgwm.log'),
      status_dir: false,
      probe: { timeout: 1 },
      ...extra,
    };
    await writeFile(this.config(name), stringify(config));
  }

  /** argv of `netgwm ARGS -c CONFIG` in the router namespace. */
  argv(args: string[], config = this.config()): string[] {
    return ['ip', 'netns', 'exec', this.net.routerNs, process.execPath, NETGWM, ...args, '-c', config];
  }

  async run(): Promise<number> {
    const [file, ...args] = this.argv(['run']);
    const started = performance.now();
    const result = await execa(file!, args, { reject: false });
    if (result.exitCode !== 0) throw new Error(`netgwm run failed: ${String(result.stderr)}`);
    return performance.now() - started;
  }

  start(args: string[], config?: string): ResultPromise {
    const [file, ...rest] = this.argv(args, config);
    return execa(file!, rest, { reject: false, stdin: 'ignore' });
  }

  async onPrimary(): Promise<void> {
    for (const uplink of this.net.uplinks) await this.net.restoreOperator(uplink.index);
    await this.run();
  }

  async destroy(): Promise<void> {
    await this.net.destroy();
    await rm(this.dir, { recursive: true, force: true });
  }
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(3)} s`;
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const quote = (argv: string[]) => argv.join(' ');

async function hyperfine(title: string, commands: Record<string, string[]>): Promise<void> {
  console.log(`\n## ${title}`);
  const args = ['-N', '--warmup', '3', '--runs', String(REPEAT * 3), '--style', 'basic'];
  for (const [name, argv] of Object.entries(commands)) args.push('-n', name, quote(argv));
  await execa('hyperfine', args, { stdout: 'inherit', stderr: 'inherit' });
}

/** Starts a cycle that holds the lock; wrapped, since awaiting a ResultPromise waits for its end. */
async function startAndHold(bench: Bench): Promise<{ cycle: ResultPromise }> {
  // A real cycle holds the lock: it probes a dead isp1 with a 30 s timeout.
  await bench.writeConfig({ probe: { timeout: 30 } }, 'slow');
  await bench.net.failOperator(1);
  const cycle = bench.start(['run'], bench.config('slow'));
  for (let attempt = 0; attempt < 200; attempt++) {
    // flock -n fails (exit 1) while the cycle holds its lock file (the bench's only namespace).
    const free = await execa(
      'sh',
      ['-c', 'for file in "$1"/cycle-net-*; do flock -n "$file" true || exit 1; done', 'sh', process.env.NETGWM_LOCK_DIR!],
      { reject: false },
    );
    if (free.exitCode === 1) return { cycle };
    await new Promise((done) => setTimeout(done, 50));
  }
  throw new Error('the slow cycle never took the lock');
}

async function startup(bench: Bench): Promise<void> {
  await bench.onPrimary();
  await hyperfine('Start-up and a healthy run (3 uplinks × 2 sites, whole processes through ip netns exec)', {
    'node -e 0': ['ip', 'netns', 'exec', bench.net.routerNs, process.execPath, '-e', '0'],
    'netgwm --version': bench.argv(['--version']),
    'netgwm run (healthy)': bench.argv(['run']),
  });
  const { cycle } = await startAndHold(bench);
  try {
    await hyperfine('netgwm status while a cycle holds the lock (it never waits for it)', {
      'netgwm --version': bench.argv(['--version']),
      'netgwm status': bench.argv(['status']),
      'netgwm status --json': bench.argv(['status', '--json']),
    });
  } finally {
    cycle.kill('SIGTERM');
    await cycle;
    await bench.net.restoreOperator(1);
  }
}

async function scenarios(uplinks: number, sites: number): Promise<void> {
  const bench = await Bench.create(uplinks, sites);
  try {
    await bench.onPrimary();
    const all = bench.net.uplinks.map((uplink) => uplink.index);
    const rows: Array<[string, number[]]> = [];
    const time = async (label: string, before: () => Promise<void>) => {
      const times: number[] = [];
      for (let i = 0; i < REPEAT; i++) {
        await before();
        times.push(await bench.run());
      }
      rows.push([`${uplinks} uplinks × ${sites} sites: ${label}`, times]);
    };
    await time('healthy run', async () => {});
    await time('failover from a dead primary', async () => {
      await bench.onPrimary();
      await bench.net.failOperator(1);
    });
    await time('all uplinks dead', async () => {
      await bench.onPrimary();
      for (const i of all) await bench.net.failOperator(i);
    });
    for (const [label, times] of rows)
      console.log(label.padEnd(48), ...[median(times), Math.min(...times), Math.max(...times)].map((ms) => seconds(ms).padStart(9)));
  } finally {
    await bench.destroy();
  }
}

/** Milliseconds from SIGTERM to the daemon's exit, while it sits in `what`. */
async function stopLatency(bench: Bench, what: 'probe' | 'hook'): Promise<number> {
  const hook = join(bench.dir, 'post-replace.d', '50-hang');
  if (what === 'probe') {
    await bench.onPrimary();
    await bench.writeConfig({ probe: { timeout: 30 } }, 'daemon');
    await bench.net.failOperator(1);
    // Without probe paths, the daemon's first cycle installs them right before it probes.
    const [file, ...args] = bench.argv(['cleanup'], bench.config('daemon'));
    await execa(file!, args);
  } else {
    await bench.writeConfig({ hook_timeout: 600 }, 'daemon');
    await writeFile(hook, '#!/bin/sh\ntouch "$0.started"\nexec sleep 600\n', { mode: 0o755 });
    await rm(`${hook}.started`, { force: true });
    await execa('ip', ['netns', 'exec', bench.net.routerNs, 'ip', 'route', 'flush', 'table', 'main', 'default']);
  }
  const daemon = bench.start(['daemon', '--interval', '60'], bench.config('daemon'));
  const ready =
    what === 'probe'
      ? () => execa('ip', ['netns', 'exec', bench.net.routerNs, 'ip', 'rule']).then((r) => r.stdout.includes('lookup 195'))
      : () => execa('test', ['-e', `${hook}.started`], { reject: false }).then((r) => r.exitCode === 0);
  for (let attempt = 0; attempt < 400 && !(await ready()); attempt++) await new Promise((done) => setTimeout(done, 25));
  const stopped = performance.now();
  daemon.kill('SIGTERM');
  await daemon;
  const ms = performance.now() - stopped;
  await rm(hook, { force: true });
  await bench.net.restoreOperator(1);
  return ms;
}

async function stopping(bench: Bench): Promise<void> {
  console.log('\n## netgwm daemon: SIGTERM to exit (the README promises under 2 s)');
  for (const what of ['probe', 'hook'] as const) {
    const times: number[] = [];
    for (let i = 0; i < REPEAT; i++) times.push(await stopLatency(bench, what));
    console.log(
      `in the middle of a ${what === 'probe' ? '30 s probe' : 'hook that sleeps 600 s'}:`.padEnd(48),
      `median ${seconds(median(times))}, max ${seconds(Math.max(...times))}`,
    );
  }
}

async function memory(bench: Bench): Promise<void> {
  console.log('\n## Peak memory (max RSS of the node process, GNU time)');
  await bench.onPrimary();
  for (const [label, args] of [
    ['netgwm run (healthy)', ['run']],
    ['netgwm status', ['status']],
    ['node -e 0', null],
  ] as const) {
    const command = args ? [process.execPath, NETGWM, ...args, '-c', bench.config()] : [process.execPath, '-e', '0'];
    const kilobytes: number[] = [];
    for (let i = 0; i < REPEAT; i++) {
      const result = await execa('ip', ['netns', 'exec', bench.net.routerNs, '/usr/bin/time', '-f', '%M', ...command], { reject: false });
      kilobytes.push(Number(String(result.stderr).trim().split('\n').at(-1)));
    }
    console.log(label.padEnd(48), `${(median(kilobytes) / 1024).toFixed(1)} MB`);
  }
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the bench builds network namespaces: run it as root');
  const nodeVersion = (await execa(process.execPath, ['--version'])).stdout;
  console.log(`# netgwm bench: node ${nodeVersion}, ${REPEAT} runs per figure (hyperfine: ${REPEAT * 3}), probe timeout 1 s`);
  // One lock directory for every netgwm the bench starts (hyperfine's too), not the host's /run:
  // the lock files are per network namespace, so the benches' networks never share one.
  // Inside a private (0700) directory: netgwm refuses a lock directory in a world-writable one.
  const lockDir = await mkdtemp(join(tmpdir(), 'netgwm-bench-lock-'));
  process.env.NETGWM_LOCK_DIR = join(lockDir, 'lock');
  // Its code cache too (src/boot.ts), made by the first run as after an install.
  process.env.NETGWM_CACHE_DIR = join(lockDir, 'cache');
  const bench = await Bench.create(3, 2);
  try {
    await startup(bench);
    console.log('\n## Whole `netgwm run` processes'.padEnd(50), 'median'.padStart(9), 'min'.padStart(9), 'max'.padStart(9));
    await scenarios(3, 2);
    await scenarios(8, 4);
    await stopping(bench);
    await memory(bench);
  } finally {
    await bench.destroy();
    await rm(lockDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(`bench failed: ${(error as Error).message}`);
  process.exitCode = 1;
});
