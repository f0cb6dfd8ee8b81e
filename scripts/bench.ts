// `npm run bench`: how fast and how big netgwm is, on a throw-away namespace network. Tests assert
// behaviour only; every time and memory figure is measured here, side by side in one run so that
// the ratios hold on a loaded machine even when the absolute numbers do not.
//   1. hyperfine: Node's own start, `netgwm --version`, a healthy `netgwm run`;
//   2. hyperfine: `netgwm status` while a real cycle holds the lock, against `netgwm --version`;
//   3. whole `netgwm run` processes that fail over or find every uplink dead (3×2 and 8×4);
//   4. how soon the daemon exits on SIGTERM in the middle of a long probe and of a hanging hook;
//   5. peak memory (max RSS) of a healthy run and of `netgwm status`;
//   then the figures of issue 10's target table (continuous monitoring), each next to its target:
//   6. daemon at default probe settings: hard outage (nft drop) / carrier loss of the active uplink
//      at random moments → the router's default route moved (p50 / p95); a member of a 3:1
//      balanced tier fails → the nft table gives its share to the other (BENCH_OUTAGES times);
//   7. one-shot `run` with all N uplinks dead, N = 1, 2, 4, 8, 16, against probe.timeout + 0.3 s;
//   8. one long daemon on 8 uplinks × 2 sites: CPU (% of one core), echoes per second per gateway,
//      false switches with 10 % random loss on the active uplink, RSS per minute and peak.
//   The table of every target figure is printed at the end.
// Prints figures; asserts nothing. Needs root, hyperfine and GNU time (scripts/setup.sh bench).
// Environment (defaults give about 1.2 h, most of it the long daemon of 8):
//   BENCH_REPEAT (7)          runs per figure of 1–5 (hyperfine: 3×);
//   BENCH_OUTAGES (20)        hard outages for 6;
//   BENCH_CARRIERS (10)       carrier losses for 6 (default: half BENCH_OUTAGES, at least 10);
//   BENCH_CPU_SECONDS (120)   CPU and echo count window of 8, after a 15 s warm-up;
//   BENCH_LOSS_MINUTES (30)   10 % loss on the active uplink in 8 (false switches);
//   BENCH_RSS_MINUTES (60)    RSS sampled every minute in 8 (the same daemon, from its start);
//   BENCH_HA_TAKEOVERS (5)    takeovers of each kind for ha;
//   BENCH_SECTIONS            comma list of startup,scenarios,stopping,memory,detect,detect6,share,dead,long,ha (default all);
//                             detect6: 6's hard outage for IPv6 alone, on a dual-stack network (issue 13);
//                             ha: takeover time and TCP stall of a keepalived + conntrackd pair (issue 14, scripts/bench-ha.ts).
// A short run: BENCH_OUTAGES=20 BENCH_CPU_SECONDS=60 BENCH_LOSS_MINUTES=5 BENCH_RSS_MINUTES=5 (about 20 min).
import { readFileSync } from 'node:fs';
import { appendFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { execa, type ResultPromise } from 'execa';
import { stringify } from 'yaml';
import { haTakeovers } from './bench-ha.js';
import { cpuTicks, statusKb } from './proc-figures.js';
import { TestNetwork } from './testnet/network.js';

const NETGWM = fileURLToPath(new URL('../bin/netgwm', import.meta.url));
const REPEAT = Number(process.env.BENCH_REPEAT ?? 7);
const OUTAGES = Number(process.env.BENCH_OUTAGES ?? 20);
const CARRIER_LOSSES = Number(process.env.BENCH_CARRIERS ?? Math.max(10, Math.ceil(OUTAGES / 2)));
const CPU_SECONDS = Number(process.env.BENCH_CPU_SECONDS ?? 120);
const LOSS_MINUTES = Number(process.env.BENCH_LOSS_MINUTES ?? 30);
const RSS_MINUTES = Number(process.env.BENCH_RSS_MINUTES ?? 60);
const HA_TAKEOVERS = Number(process.env.BENCH_HA_TAKEOVERS ?? 5);
const SECTIONS = new Set((process.env.BENCH_SECTIONS ?? 'startup,scenarios,stopping,memory,detect,detect6,share,dead,long,ha').split(','));
/** The defaults of probe.timeout and probe.interval (src/config/schema.ts), which the bench never sets but for 1–4's special cases. */
const DEFAULT_TIMEOUT_S = 0.5;
const DEFAULT_INTERVAL_S = 0.15;
/** A daemon never fails back during a measurement: the bench puts it back on isp1 itself. */
const NO_FAILBACK = { min_uptime: 86_400 };

/** The Node flags the package's systemd unit gives the daemon (`ExecStart=/usr/bin/node FLAGS /usr/bin/netgwm daemon`). */
const DAEMON_NODE_FLAGS = daemonNodeFlags(readFileSync(fileURLToPath(new URL('../debian/netgwm.service', import.meta.url)), 'utf8'));

function daemonNodeFlags(unit: string): string[] {
  const words = /^ExecStart=(.*)$/m.exec(unit)?.[1]?.trim().split(/\s+/) ?? [];
  const script = words.indexOf('/usr/bin/netgwm');
  if (script < 0 || words[script + 1] !== 'daemon') throw new Error(`debian/netgwm.service: no ExecStart= running /usr/bin/netgwm daemon`);
  return words.slice(words[0] === '/usr/bin/node' ? 1 : script, script);
}

/** Every figure of issue 10's target table, printed together at the end. */
const targets: Array<{ figure: string; measured: string; target: string }> = [];
const target = (figure: string, measured: string, goal: string) => {
  targets.push({ figure, measured, target: goal });
  console.log(`${figure}: ${measured}   (target ${goal})`);
};

/** A network, a config file and a way to run netgwm in the router namespace. */
class Bench {
  private constructor(
    readonly net: TestNetwork,
    readonly dir: string,
  ) {}

  /** With `ipv6`: a dual-stack network, every gateway with its `ip6` and the IPv6 sites too. */
  static async create(uplinks: number, sites: number, ipv6 = false): Promise<Bench> {
    const options = { uplinks, sites, ...(ipv6 && { ipv6 }) } as Parameters<typeof TestNetwork.create>[0];
    const bench = new Bench(await TestNetwork.create(options), await mkdtemp(join(tmpdir(), 'netgwm-bench-')));
    await mkdir(join(bench.dir, 'post-replace.d'));
    await bench.writeConfig();
    return bench;
  }

  config = (name = 'netgwm') => join(this.dir, `${name}.yml`);

  async writeConfig(extra: Record<string, unknown> = {}, name = 'netgwm'): Promise<void> {
    const dual = dualStack(this.net);
    const config = {
      gateways: Object.fromEntries(
        this.net.uplinks.map((uplink, index) => [
          `isp${uplink.index}`,
          { ip: uplink.gatewayIp, ...(dual && { ip6: dual.uplinks[index]!.gatewayIp6 }), priority: uplink.index },
        ]),
      ),
      min_uptime: 0,
      check_sites: [...this.net.sites, ...(dual?.sites6 ?? [])],
      state_dir: join(this.dir, 'state'),
      log_file: join(this.dir, 'netgwm.log'),
      status_dir: false,
      ...extra,
    };
    await writeFile(this.config(name), stringify(config));
  }

  /** argv of `netgwm ARGS -c CONFIG` in the router namespace; a daemon with the package's Node flags. */
  argv(args: string[], config = this.config()): string[] {
    const flags = args[0] === 'daemon' ? DAEMON_NODE_FLAGS : [];
    return ['ip', 'netns', 'exec', this.net.routerNs, process.execPath, ...flags, NETGWM, ...args, '-c', config];
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

/** Runs hyperfine; returns each command's mean in seconds. */
async function hyperfine(title: string, commands: Record<string, string[]>): Promise<Record<string, number>> {
  console.log(`\n## ${title}`);
  const exported = join(await mkdtemp(join(tmpdir(), 'netgwm-hyperfine-')), 'result.json');
  const args = ['-N', '--warmup', '3', '--runs', String(REPEAT * 3), '--style', 'basic', '--export-json', exported];
  for (const [name, argv] of Object.entries(commands)) args.push('-n', name, quote(argv));
  try {
    await execa('hyperfine', args, { stdout: 'inherit', stderr: 'inherit' });
    const { results } = JSON.parse(await readFile(exported, 'utf8')) as { results: Array<{ command: string; mean: number }> };
    return Object.fromEntries(results.map((result) => [result.command, result.mean]));
  } finally {
    await rm(join(exported, '..'), { recursive: true, force: true });
  }
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
  const nodeStart = ['ip', 'netns', 'exec', bench.net.routerNs, process.execPath, '-e', '0'];
  const runs = await hyperfine('Start-up and a healthy run (3 uplinks × 2 sites, whole processes through ip netns exec)', {
    'node -e 0': nodeStart,
    'netgwm --version': bench.argv(['--version']),
    'netgwm run (healthy)': bench.argv(['run']),
  });
  const { cycle } = await startAndHold(bench);
  try {
    const status = await hyperfine('netgwm status while a cycle holds the lock (it never waits for it)', {
      'node -e 0': nodeStart,
      'netgwm --version': bench.argv(['--version']),
      'netgwm status': bench.argv(['status']),
      'netgwm status --json': bench.argv(['status', '--json']),
    });
    const ratio = (means: Record<string, number>, name: string) => (means[name]! / means['node -e 0']!).toFixed(2);
    target(
      'healthy one-shot run / node -e 0; status / node -e 0 (hyperfine means)',
      `${ratio(runs, 'netgwm run (healthy)')}; ${ratio(status, 'netgwm status')}`,
      '≤ 1.5; ≤ 1.5',
    );
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

// ---- issue 10's targets: the daemon at default probe settings ----

const sleepMs = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));
const percentile = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.max(0, Math.ceil(p * values.length) - 1)]!;
const p50p95 = (ms: number[]) =>
  ms.length === 0
    ? 'no sample'
    : `${seconds(percentile(ms, 0.5))} / ${seconds(percentile(ms, 0.95))} (n = ${ms.length}, max ${seconds(Math.max(...ms))})`;

/** Polls `check` every `everyMs` until it is true; false after `timeoutMs`. */
async function until(check: () => Promise<boolean>, timeoutMs: number, everyMs = 50): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (await check()) return true;
    await sleepMs(everyMs);
  }
  return false;
}

/** The dual-stack parts of the test network (issue 13), when it was made with `ipv6: true`. */
interface DualStack {
  uplinks: Array<{ gatewayIp6: string }>;
  sites6: string[];
  failOperator(i: number, options: { family: 4 | 6 }): Promise<void>;
  restoreOperator(i: number, options: { family: 4 | 6 }): Promise<void>;
}

function dualStack(net: TestNetwork): DualStack | undefined {
  // Made with `ipv6: true` when it has IPv6 sites: then every uplink has its IPv6 gateway too.
  return net.sites6.length > 0 ? (net as DualStack) : undefined;
}

/**
 * The router's main-table default route (of one family) as the kernel announces it: a long-lived
 * `ip monitor route` whose lines are timestamped here (performance.now()) as they arrive.
 */
class RouteWatch {
  private readonly events: Array<{ at: number; gateway: string }> = [];
  private readonly child: ResultPromise;

  constructor(routerNs: string, family: 4 | 6 = 4) {
    const argv = ['-n', routerNs, ...(family === 6 ? ['-6'] : []), 'monitor', 'route'];
    this.child = execa('ip', argv, { reject: false, stdin: 'ignore', buffer: false });
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      // Main-table default routes only: probe tables print `table N`, removals `Deleted`.
      const match = /^default via (\S+) /.exec(line);
      if (match && !line.includes(' table ')) {
        this.events.push({ at: performance.now(), gateway: match[1]! });
        if (this.events.length > 1000) this.events.shift();
      }
    });
  }

  /** The first default route via a gateway other than `from` announced after `since`. */
  async movedAway(from: string, since: number, timeoutMs: number): Promise<number | undefined> {
    let moved: number | undefined;
    await until(
      async () => {
        moved = this.events.find((event) => event.at >= since && event.gateway !== from)?.at;
        return moved !== undefined;
      },
      timeoutMs,
      5,
    );
    return moved;
  }

  async stop(): Promise<void> {
    this.child.kill('SIGTERM');
    await this.child;
  }
}

/** A daemon at default probe settings in the router namespace, with its own state and log. */
class Daemon {
  private constructor(
    readonly process: ResultPromise,
    readonly log: string,
  ) {}

  static async start(bench: Bench, name: string, extra: Record<string, unknown> = {}): Promise<Daemon> {
    const dir = join(bench.dir, name);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir);
    const log = join(dir, 'netgwm.log');
    await bench.writeConfig({ ...NO_FAILBACK, state_dir: join(dir, 'state'), log_file: log, ...extra }, name);
    const daemon = new Daemon(bench.start(['daemon', '--interval', '60'], bench.config(name)), log);
    // Ready once every gateway's health is known (the first decision follows at once).
    const names = bench.net.uplinks.map((uplink) => `isp${uplink.index}`);
    const ready = await until(async () => {
      const text = await daemon.text();
      return names.every((gateway) => new RegExp(`gateway ${gateway} (up|down)\\b`).test(text));
    }, 20_000);
    if (!ready) {
      await daemon.stop();
      throw new Error(`daemon ${name}: not every gateway's health known after 20 s; log:\n${await daemon.text()}`);
    }
    return daemon;
  }

  text = () => readFile(this.log, 'utf8').catch(() => '');

  get pid(): number {
    return this.process.pid!;
  }

  async stop(): Promise<void> {
    this.process.kill('SIGTERM');
    await this.process;
  }
}

/**
 * 6. Outage of the active uplink isp1 at a random moment → default route moved, `count` times,
 * each with a fresh daemon (fresh state) started on isp1; the clock starts once the nft drop rule
 * is in place (or the carrier is gone) and stops at the route event.
 */
async function detection(bench: Bench, kind: 'outage' | 'carrier' | 'outage6', count: number): Promise<number[]> {
  const dual = dualStack(bench.net);
  const isp1 = kind === 'outage6' ? dual!.uplinks[0]!.gatewayIp6 : bench.net.uplink(1).gatewayIp;
  const watch = new RouteWatch(bench.net.routerNs, kind === 'outage6' ? 6 : 4);
  const times: number[] = [];
  const actionMs: number[] = [];
  try {
    for (let i = 0; i < count; i++) {
      await bench.net.setUplinkCarrier(1, true);
      if (kind === 'outage6') await dual!.restoreOperator(1, { family: 6 });
      await bench.onPrimary();
      const daemon = await Daemon.start(bench, 'daemon-detect');
      try {
        // A random moment relative to the daemon's probe rounds.
        await sleepMs(1000 + Math.random() * 2000);
        const before = performance.now();
        if (kind === 'outage') await bench.net.failOperator(1);
        else if (kind === 'outage6') await dual!.failOperator(1, { family: 6 });
        else await bench.net.setUplinkCarrier(1, false);
        const inPlace = performance.now();
        actionMs.push(inPlace - before);
        const moved = await watch.movedAway(isp1, inPlace, 15_000);
        if (moved === undefined) console.log(`${kind} ${i + 1}: route not moved within 15 s`);
        else times.push(moved - inPlace);
      } finally {
        await daemon.stop();
      }
    }
  } finally {
    await watch.stop();
    await bench.net.setUplinkCarrier(1, true);
    await bench.net.restoreOperator(1);
    await dual?.restoreOperator(1, { family: 6 });
  }
  console.log(
    `${kind}: each measured from the end of the command that made it (which took median ${seconds(median(actionMs))}): ${times
      .map((ms) => (ms / 1000).toFixed(3))
      .join(' ')}`,
  );
  return times;
}

async function detections(bench: Bench): Promise<void> {
  console.log(
    `\n## Daemon at default probe settings (${bench.net.uplinks.length} uplinks × ${bench.net.sites.length} sites): active uplink lost → default route moved`,
  );
  target(
    `hard outage of the active uplink → route moved, p50 / p95`,
    p50p95(await detection(bench, 'outage', OUTAGES)),
    '≤ 1.0 s / ≤ 1.5 s',
  );
  target(
    'carrier loss on the active uplink → route moved, p50 / p95',
    p50p95(await detection(bench, 'carrier', CARRIER_LOSSES)),
    '≤ 0.2 s',
  );
}

/** 6 for IPv6 (issue 13): the primary stops passing IPv6 only (its IPv4 goes on) → the IPv6 default route moved. */
async function detections6(): Promise<void> {
  const bench = await Bench.create(3, 2, true);
  try {
    if (!dualStack(bench.net)) {
      console.log('\n## IPv6: the test network has no IPv6 (scripts/testnet before issue 13): skipped');
      return;
    }
    console.log(
      `\n## Daemon at default probe settings, dual stack (3 uplinks × 2 + 2 sites): IPv6 of the active uplink lost → IPv6 default route moved`,
    );
    target(
      "hard outage of the active uplink's IPv6 → IPv6 route moved, p50 / p95",
      p50p95(await detection(bench, 'outage6', OUTAGES)),
      '≤ 1.0 s / ≤ 1.5 s (as IPv4)',
    );
  } finally {
    await bench.destroy();
  }
}

/**
 * 6b. A member of a 3:1 tier (isp1 and isp2, each routed by its mark through its own table)
 * that does not carry the route, isp2, fails at a random moment → the loaded table gives every
 * new connection to isp1 (`nft monitor` announces the new `choose` chain), `count` times.
 */
async function shareMoves(bench: Bench, count: number): Promise<number[]> {
  const [uplink1, uplink2] = [bench.net.uplink(1), bench.net.uplink(2)];
  await appendFile(join(bench.net.routerEtcDir, 'iproute2', 'rt_tables'), '101\tbench1\n102\tbench2\n');
  const routes = [uplink1, uplink2].map((u, i) => `route replace default via ${u.gatewayIp} dev ${u.routerDev} table ${101 + i}`);
  await bench.net.exec(bench.net.routerNs, 'ip', ['-batch', '-'], { input: `${routes.join('\n')}\n` });
  const member = (u: typeof uplink1, weight: number) => ({
    ip: u.gatewayIp,
    dev: u.routerDev,
    priority: 1,
    weight,
    mark: u.index,
    table: 100 + u.index,
  });
  const tier = {
    gateways: { isp1: member(uplink1, 3), isp2: member(uplink2, 1), isp3: { ip: bench.net.uplink(3).gatewayIp, priority: 3, mark: 3 } },
    nftables: {},
    conntrack: { flush: 'none' },
  };
  const monitor = execa('ip', ['netns', 'exec', bench.net.routerNs, 'nft', 'monitor', 'rules'], {
    reject: false,
    stdin: 'ignore',
    buffer: false,
  });
  const alone: number[] = [];
  createInterface({ input: monitor.stdout! }).on('line', (line) => {
    if (/choose .*comment "default: isp1"/.test(line)) alone.push(performance.now());
  });
  const times: number[] = [];
  try {
    for (let i = 0; i < count; i++) {
      await bench.net.restoreOperator(2);
      const daemon = await Daemon.start(bench, 'daemon-share', tier);
      try {
        if (!(await until(async () => (await daemon.text()).includes('shares: default tier 1'), 20_000)))
          throw new Error('no tier after 20 s');
        await sleepMs(1000 + Math.random() * 2000);
        await bench.net.failOperator(2);
        const inPlace = performance.now();
        const moved = await until(async () => alone.some((at) => at >= inPlace), 15_000, 5);
        if (!moved) console.log(`share ${i + 1}: isp2 still drawn after 15 s`);
        else times.push(alone.find((at) => at >= inPlace)! - inPlace);
      } finally {
        await daemon.stop();
      }
    }
  } finally {
    monitor.kill('SIGTERM');
    await monitor;
    await bench.net.restoreOperator(2);
    await bench.writeConfig();
  }
  console.log(`share: ${times.map((ms) => (ms / 1000).toFixed(3)).join(' ')}`);
  return times;
}

async function shares(bench: Bench): Promise<void> {
  console.log(`\n## Daemon at default probe settings: a member of a 3:1 tier fails → its share reaches the other member`);
  target(
    `member of a balanced tier fails → its share moved (nft table loaded), p50 / p95`,
    p50p95(await shareMoves(bench, OUTAGES)),
    '≤ 1.5 s p95 (as failover)',
  );
}

/** 7. One-shot `run` with all N uplinks dead, at the default probe.timeout; median of 3. */
async function allDead(): Promise<void> {
  console.log(
    `\n## One-shot run, all N uplinks dead (2 sites each, default probe.timeout ${DEFAULT_TIMEOUT_S} s), median of 3; healthy for comparison`,
  );
  const medians: string[] = [];
  for (const uplinks of [1, 2, 4, 8, 16]) {
    const bench = await Bench.create(uplinks, 2);
    try {
      await bench.onPrimary();
      // The same run with every uplink healthy: what a dead run costs beyond it is the probe's wait.
      const healthy: number[] = [];
      for (let i = 0; i < 3; i++) healthy.push(await bench.run());
      for (const uplink of bench.net.uplinks) await bench.net.failOperator(uplink.index);
      const times: number[] = [];
      for (let i = 0; i < 3; i++) times.push(await bench.run());
      console.log(
        `N = ${String(uplinks).padStart(2)}: ${times.map(seconds).join(', ')}; healthy: ${healthy.map(seconds).join(', ')}; dead − healthy (medians) ${seconds(median(times) - median(healthy))}`,
      );
      medians.push(`N=${uplinks} ${seconds(median(times))}`);
    } finally {
      await bench.destroy();
    }
  }
  target(
    'one-shot run, all N uplinks dead',
    medians.join(', '),
    `≤ ${(DEFAULT_TIMEOUT_S + 0.3).toFixed(1)} s (timeout + 0.3 s) for every N`,
  );
}

/** User + system CPU time (clock ticks) of a process and its descendants. */
const cpuTotal = async (pid: number) => {
  const { user, system } = await cpuTicks(pid);
  return user + system;
};

/** A named nft counter of the echo requests operator i forwards (ours, in its namespace). */
async function countEchoes(bench: Bench, i: number): Promise<() => Promise<number>> {
  const ns = bench.net.uplink(i).operatorNs;
  const script = [
    'add table inet netgwm_bench',
    'add counter inet netgwm_bench echoes',
    'add chain inet netgwm_bench forward { type filter hook forward priority -10 ; policy accept ; }',
    'add rule inet netgwm_bench forward iifname "to-router" icmp type echo-request counter name echoes',
  ].join('\n');
  await execa('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], { input: `${script}\n` });
  return async () => {
    const { stdout } = await execa('ip', ['netns', 'exec', ns, 'nft', '-j', 'list', 'counter', 'inet', 'netgwm_bench', 'echoes']);
    const listed = JSON.parse(stdout) as { nftables: Array<{ counter?: { packets: number } }> };
    return listed.nftables.find((entry) => entry.counter)?.counter?.packets ?? Number.NaN;
  };
}

/**
 * 8. One daemon at defaults on 8 uplinks × 2 sites: after a warm-up, CPU and echoes per gateway
 * over CPU_SECONDS; then 10 % loss on every site of the active uplink for LOSS_MINUTES (route
 * replacements and up↔degraded changes counted in its log); RSS sampled every minute from the
 * start until RSS_MINUTES, peak from VmHWM.
 */
async function longDaemon(): Promise<void> {
  const bench = await Bench.create(8, 2);
  const rss: number[] = [];
  try {
    console.log(`\n## One daemon at defaults, 8 uplinks × 2 sites (probe.interval ${DEFAULT_INTERVAL_S} s)`);
    const echoes = await countEchoes(bench, 1);
    await bench.onPrimary();
    const started = performance.now();
    const daemon = await Daemon.start(bench, 'daemon-long');
    const minutes = Math.max(RSS_MINUTES, LOSS_MINUTES + CPU_SECONDS / 60 + 0.5);
    const endAt = started + minutes * 60_000;
    let nextSample = started;
    const sampleRss = async () => {
      if (performance.now() < nextSample) return;
      nextSample += 60_000;
      rss.push(await statusKb(daemon.pid, 'VmRSS'));
      console.log(`RSS at minute ${rss.length - 1}: ${(rss.at(-1)! / 1024).toFixed(1)} MB`);
    };
    /** Sleeps up to `ms`, sampling RSS at each whole minute on the way. */
    const wait = async (ms: number) => {
      const stopAt = Math.min(performance.now() + ms, endAt + 1000);
      while (performance.now() < stopAt) {
        await sampleRss();
        await sleepMs(Math.min(1000, stopAt - performance.now()));
      }
    };
    try {
      await wait(15_000); // warm-up: JIT, the first housekeeping cycle
      const [ticks0, echoes0, t0] = [await cpuTotal(daemon.pid), await echoes(), performance.now()];
      await wait(CPU_SECONDS * 1000);
      const [ticks1, echoes1, t1] = [await cpuTotal(daemon.pid), await echoes(), performance.now()];
      const elapsedS = (t1 - t0) / 1000;
      // CLK_TCK is 100 on Linux (getconf CLK_TCK).
      target(
        'daemon CPU, 8 gateways × 2 sites, defaults (netgwm + children)',
        `${(((ticks1 - ticks0) / 100 / elapsedS) * 100).toFixed(2)} % of one core over ${elapsedS.toFixed(0)} s`,
        '≤ 2 %',
      );
      target(
        'echoes per second per gateway at defaults (isp1, nft counter in its operator)',
        `${((echoes1 - echoes0) / elapsedS).toFixed(1)} measured; ${(bench.net.sites.length / DEFAULT_INTERVAL_S).toFixed(1)} computed (sites / interval)`,
        '≤ 16',
      );

      const logBefore = (await daemon.text()).length;
      await bench.net.setOperatorLoss(1, 10);
      await wait(LOSS_MINUTES * 60_000);
      await bench.net.setOperatorLoss(1, 0);
      const lossLog = (await daemon.text()).slice(logBefore);
      const replaced = lossLog.split('\n').filter((line) => line.includes('route replaced')).length;
      const flaps = lossLog.split('\n').filter((line) => /gateway isp1 (up|degraded) \(was (up|degraded)\)/.test(line)).length;
      const downs = lossLog.split('\n').filter((line) => /gateway isp1 down /.test(line)).length;
      target(
        `false switches in ${LOSS_MINUTES} min with 10 % random loss on every site of the active uplink`,
        `${replaced} route replaced; isp1 up↔degraded changes: ${flaps}; isp1 down: ${downs}`,
        '0',
      );
      await wait(endAt - performance.now());
      await sampleRss();
      const peak = await statusKb(daemon.pid, 'VmHWM');
      target(
        `daemon RSS over ${rss.length - 1} min (per-minute samples min–max; peak VmHWM)`,
        `${(Math.min(...rss) / 1024).toFixed(1)}–${(Math.max(...rss) / 1024).toFixed(1)} MB; peak ${(peak / 1024).toFixed(1)} MB`,
        'flat, ≤ 80 MB peak',
      );
    } finally {
      await daemon.stop();
    }
  } finally {
    await bench.destroy();
  }
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the bench builds network namespaces: run it as root');
  const nodeVersion = (await execa(process.execPath, ['--version'])).stdout;
  console.log(
    `# netgwm bench: node ${nodeVersion} (daemon: ${['node', ...DAEMON_NODE_FLAGS].join(' ')}), ${REPEAT} runs per figure (hyperfine: ${REPEAT * 3}), default probe settings; ${OUTAGES} outages, CPU ${CPU_SECONDS} s, loss ${LOSS_MINUTES} min, RSS ${RSS_MINUTES} min`,
  );
  // One lock directory for every netgwm the bench starts (hyperfine's too), not the host's /run:
  // the lock files are per network namespace, so the benches' networks never share one.
  // Inside a private (0700) directory: netgwm refuses a lock directory in a world-writable one.
  const lockDir = await mkdtemp(join(tmpdir(), 'netgwm-bench-lock-'));
  process.env.NETGWM_LOCK_DIR = join(lockDir, 'lock');
  // Its code cache too (src/boot.ts), made by the first run as after an install.
  process.env.NETGWM_CACHE_DIR = join(lockDir, 'cache');
  // What cron and systemd give netgwm: no NODE_OPTIONS and no NODE_EXTRA_CA_CERTS (which some
  // environments set, and which makes every Node, `node -e 0` too, read and parse a certificate
  // bundle before anything else: 80 ms of CPU here, hiding what netgwm itself costs).
  delete process.env.NODE_OPTIONS;
  delete process.env.NODE_EXTRA_CA_CERTS;
  const bench = await Bench.create(3, 2);
  try {
    if (SECTIONS.has('startup')) await startup(bench);
    if (SECTIONS.has('scenarios')) {
      console.log('\n## Whole `netgwm run` processes'.padEnd(50), 'median'.padStart(9), 'min'.padStart(9), 'max'.padStart(9));
      await scenarios(3, 2);
      await scenarios(8, 4);
    }
    if (SECTIONS.has('stopping')) await stopping(bench);
    if (SECTIONS.has('memory')) await memory(bench);
    if (SECTIONS.has('detect')) await detections(bench);
    if (SECTIONS.has('detect6')) await detections6();
    if (SECTIONS.has('share')) await shares(bench);
    if (SECTIONS.has('dead')) await allDead();
    if (SECTIONS.has('long')) await longDaemon();
    if (SECTIONS.has('ha')) await haTakeovers(HA_TAKEOVERS);
    console.log("\n## Issue 10's targets, side by side");
    for (const row of targets) console.log(`| ${row.figure} | ${row.measured} | ${row.target} |`);
  } finally {
    await bench.destroy();
    await rm(lockDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(`bench failed: ${(error as Error).message}`);
  process.exitCode = 1;
});
