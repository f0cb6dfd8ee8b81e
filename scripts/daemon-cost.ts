// Side-by-side cost of daemon variants: each variant gets its own 8 × 2 namespace network and
// daemon at the default probe settings, all running at the same time (same machine load), and
// prints CPU (% of one core: user and system time of the daemon and its children, from /proc)
// over a window, and RSS per minute and peak (VmHWM). For comparing a change against the build before it; `npm run bench` gives the figures.
//   npx tsx scripts/daemon-cost.ts LABEL=NETGWM_BIN[,NODE_FLAG...] ...
// e.g.  before=/tmp/before/bin/netgwm  after=bin/netgwm  small=bin/netgwm,--max-semi-space-size=1
// Environment: COST_CPU_SECONDS (60), COST_MINUTES (10, RSS and CPU windows end together),
// COST_PROFILE=1 writes a --cpu-prof per variant into the variant's directory (printed).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa, type ResultPromise } from 'execa';
import { stringify } from 'yaml';
import { cpuTicks, statusKb } from './proc-figures.js';
import { TestNetwork } from './testnet/network.js';

const CPU_SECONDS = Number(process.env.COST_CPU_SECONDS ?? 60);
const MINUTES = Number(process.env.COST_MINUTES ?? 10);
const PROFILE = process.env.COST_PROFILE === '1';

interface Variant {
  label: string;
  bin: string;
  flags: string[];
  net?: TestNetwork;
  dir?: string;
  daemon?: ResultPromise;
  rss: number[];
}

function parse(arg: string): Variant {
  const equals = arg.indexOf('=');
  const [label, spec] = [arg.slice(0, equals), arg.slice(equals + 1)];
  if (equals < 1 || !spec) throw new Error(`argument ${JSON.stringify(arg)}: expected LABEL=NETGWM_BIN[,NODE_FLAG...]`);
  const [bin, ...flags] = spec.split(',');
  return { label, bin: resolve(bin!), flags, rss: [] };
}

/** The node process: `ip netns exec` execs it, so the pid is the child's. */
const pidOf = (variant: Variant) => {
  if (variant.daemon?.exitCode !== null) throw new Error(`${variant.label}: the daemon has exited: see ${variant.dir}/netgwm.log`);
  return variant.daemon.pid!;
};

async function start(variant: Variant): Promise<void> {
  variant.net = await TestNetwork.create({ uplinks: 8, sites: 2 });
  variant.dir = await mkdtemp(join(tmpdir(), `netgwm-cost-${variant.label}-`));
  const net = variant.net;
  const config = {
    gateways: Object.fromEntries(net.uplinks.map((u) => [`isp${u.index}`, { ip: u.gatewayIp, priority: u.index }])),
    min_uptime: 86_400,
    check_sites: net.sites,
    state_dir: join(variant.dir, 'state'),
    log_file: join(variant.dir, 'netgwm.log'),
    status_dir: false,
  };
  await writeFile(join(variant.dir, 'netgwm.yml'), stringify(config));
  const profile = PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${join(variant.dir, 'prof')}`] : [];
  variant.daemon = execa(
    'ip',
    [
      'netns',
      'exec',
      net.routerNs,
      process.execPath,
      ...variant.flags,
      ...profile,
      variant.bin,
      'daemon',
      '--interval',
      '60',
      '-c',
      join(variant.dir, 'netgwm.yml'),
    ],
    { reject: false, stdin: 'ignore', env: { NETGWM_LOCK_DIR: join(variant.dir, 'lock'), NETGWM_CACHE_DIR: join(variant.dir, 'cache') } },
  );
}

async function main(): Promise<void> {
  const variants = process.argv.slice(2).map(parse);
  if (variants.length === 0) throw new Error('usage: daemon-cost.ts LABEL=NETGWM_BIN[,NODE_FLAG...] ...');
  try {
    for (const variant of variants) await start(variant);
    const started = performance.now();
    await sleep(15_000); // warm-up: JIT, the first housekeeping cycle
    const t0 = performance.now();
    const before = await Promise.all(variants.map((v) => cpuTicks(pidOf(v))));
    let cpu: number[] | undefined;
    let nextSample = started;
    const endAt = started + Math.max(MINUTES * 60_000, 15_000 + CPU_SECONDS * 1000 + 2000); // the CPU window ends inside
    while (performance.now() < endAt) {
      if (cpu === undefined && performance.now() - t0 >= CPU_SECONDS * 1000) {
        const after = await Promise.all(variants.map((v) => cpuTicks(pidOf(v))));
        const elapsed = (performance.now() - t0) / 1000;
        // CLK_TCK is 100 on Linux: ticks / 100 / s * 100 = % of one core.
        const user = after.map(({ user }, i) => (user - before[i]!.user) / elapsed);
        const system = after.map(({ system }, i) => (system - before[i]!.system) / elapsed);
        cpu = user.map((u, i) => u + system[i]!);
        for (const [i, v] of variants.entries()) {
          console.log(
            `${v.label}: CPU ${cpu[i]!.toFixed(2)} % of one core over ${elapsed.toFixed(0)} s (user ${user[i]!.toFixed(2)}, system ${system[i]!.toFixed(2)})`,
          );
        }
      }
      if (performance.now() >= nextSample) {
        nextSample += 60_000;
        const peaks: number[] = [];
        for (const v of variants) {
          v.rss.push(await statusKb(pidOf(v), 'VmRSS'));
          peaks.push(await statusKb(pidOf(v), 'VmHWM'));
        }
        const mb = (kb: number) => (kb / 1024).toFixed(1);
        console.log(
          `minute ${variants[0]!.rss.length - 1}, RSS (peak so far): ${variants.map((v, i) => `${v.label} ${mb(v.rss.at(-1)!)} (${mb(peaks[i]!)})`).join(', ')} MB`,
        );
      }
      await sleep(500);
    }
    console.log('\n| variant | CPU % of one core | RSS per minute (min–max) | peak VmHWM |');
    for (const [i, v] of variants.entries()) {
      const peak = await statusKb(pidOf(v), 'VmHWM');
      console.log(
        `| ${v.label} ${v.flags.join(' ')} | ${cpu?.[i]?.toFixed(2) ?? '?'} | ${(Math.min(...v.rss) / 1024).toFixed(1)}–${(Math.max(...v.rss) / 1024).toFixed(1)} MB | ${(peak / 1024).toFixed(1)} MB |`,
      );
    }
  } finally {
    for (const v of variants) {
      v.daemon?.kill('SIGTERM');
      const result = await v.daemon;
      if (v.flags.includes('--trace-gc')) {
        const lines = String(result?.stdout ?? '').split('\n');
        const count = (kind: string) => lines.filter((line) => line.includes(kind)).length;
        console.log(`${v.label}: ${count('Scavenge')} scavenges, ${count('Mark-Compact')} mark-compacts (--trace-gc, whole run)`);
        // Every full collection (the old generation's size after each), then the last scavenges.
        const shown = [
          ...lines.filter((line) => line.includes('Mark-Compact')),
          ...lines.filter((line) => line.includes('Scavenge')).slice(-3),
        ];
        console.log(shown.join('\n'));
      }
      if (result?.exitCode !== 0) console.log(`${v.label}: exit ${result?.exitCode}, stderr: ${String(result?.stderr ?? '').slice(-2000)}`);
      if (PROFILE && v.dir) console.log(`${v.label}: profile in ${join(v.dir, 'prof')}`);
      else if (v.dir) await rm(v.dir, { recursive: true, force: true });
      await v.net?.destroy();
    }
  }
}

main().catch((error: unknown) => {
  console.error(`daemon-cost failed: ${(error as Error).message}`);
  process.exitCode = 1;
});
