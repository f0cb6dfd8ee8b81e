// `npm run bench:recording`: the probe recording's size per day, how fast a day decodes, and how
// long `netgwm replay --recorded` takes on it as an admin runs it (issue 11: under 1 s), side by
// side with `node -e 0` (hyperfine); on a synthetic day at the default rates (2 gateways × 2
// sites, a round every 0.15 s per gateway, written in blocks of 10 s as the daemon does).
// Prints figures; asserts nothing. Environment: BENCH_DAYS (1), BENCH_REPEAT (5) runs of each
// figure (the median is printed); KEEP=FILE keeps the recording.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { fileURLToPath } from 'node:url';
import { runInNewContext } from 'node:vm';
import { execa } from 'execa';
import type { ProbeEvent } from '../src/core/probe-events.js';
import { BlockEncoder, FILE_HEADER } from '../src/state/record-format.js';
import { readRecording, visitRecording } from '../src/state/recording.js';
import { prng } from '../src/core/prng.js';

const DAYS = Number(process.env.BENCH_DAYS ?? 1);
const REPEAT = Number(process.env.BENCH_REPEAT ?? 5);
const INTERVAL_MS = 150;
const TIMEOUT_MS = 500;
const FLUSH_EVERY_MS = 10_000;
/** Per gateway, each site's base RTT and jitter (ms): a wired line and an LTE modem. */
const GATEWAYS = [
  {
    name: 'isp1',
    sites: [
      { site: '192.0.2.53', rtt: 12, jitter: 1.5 },
      { site: '203.0.113.53', rtt: 25, jitter: 3 },
    ],
    loss: 0.005,
  },
  {
    name: 'lte',
    sites: [
      { site: '192.0.2.53', rtt: 45, jitter: 15 },
      { site: '203.0.113.53', rtt: 60, jitter: 20 },
    ],
    loss: 0.02,
  },
];

/** The rounds of `days` at the default rates, ordered as the daemon settles them. */
function syntheticDays(days: number): ProbeEvent[] {
  const random = prng(11);
  const start = Date.UTC(2026, 10, 30);
  const events: ProbeEvent[] = [];
  for (const [g, gateway] of GATEWAYS.entries()) {
    for (let at = start + g * 37; at < start + days * 86_400_000; at += INTERVAL_MS) {
      let settle = 0;
      const echoes = gateway.sites.map(({ site, rtt, jitter }) => {
        if (random.next() < gateway.loss) {
          settle = TIMEOUT_MS;
          return { site, answered: false };
        }
        const rttMs = Math.round((rtt + (random.next() * 2 - 1) * jitter) * 100) / 100;
        settle = Math.max(settle, rttMs);
        return { site, answered: true, rttMs };
      });
      events.push({ kind: 'round', gateway: gateway.name, at, settledAt: at + Math.ceil(settle) + random.int(2), echoes });
    }
  }
  return events.sort((a, b) => (a.kind === 'round' ? a.settledAt : a.at) - (b.kind === 'round' ? b.settledAt : b.at));
}

function encode(events: ProbeEvent[]): Uint8Array {
  const encoder = new BlockEncoder();
  const blocks: Uint8Array[] = [FILE_HEADER];
  let blockStart = events[0]?.kind === 'round' ? events[0].settledAt : 0;
  for (const event of events) {
    const time = event.kind === 'round' ? event.settledAt : event.at;
    if (time - blockStart >= FLUSH_EVERY_MS) {
      blocks.push(encoder.seal()!);
      blockStart = time;
    }
    encoder.add(event);
  }
  blocks.push(encoder.seal()!);
  return Buffer.concat(blocks);
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function main(): Promise<void> {
  // The generated events are garbage before the decodes start, so that they do not weigh on them.
  const { bytes, rounds } = (() => {
    const events = syntheticDays(DAYS);
    return { bytes: encode(events), rounds: events.length };
  })();
  console.log(
    `${DAYS} day(s): ${rounds} rounds of 2 echoes, ${bytes.length} bytes (${(bytes.length / DAYS / 2 ** 20).toFixed(2)} MiB a day, ${(bytes.length / rounds).toFixed(2)} bytes a round)`,
  );
  const dir = await mkdtemp(join(tmpdir(), 'netgwm-bench-recording-'));
  try {
    const file = join(dir, 'probes.rec');
    await writeFile(file, bytes);
    if (process.env.KEEP) await writeFile(process.env.KEEP, bytes);
    // CPU time as well as elapsed: other work on a shared machine stretches the one, less the other.
    const measure = async (label: string, decode: () => Promise<number>) => {
      const elapsed: number[] = [];
      const cpu: number[] = [];
      for (let i = 0; i < REPEAT; i++) {
        const started = performance.now();
        const cpuBefore = process.cpuUsage();
        const count = await decode();
        const used = process.cpuUsage(cpuBefore);
        elapsed.push(performance.now() - started);
        cpu.push((used.user + used.system) / 1000);
        if (count !== rounds) throw new Error(`decoded ${count} events, expected ${rounds}`);
      }
      console.log(
        `${label} of ${DAYS} day(s): median ${median(elapsed).toFixed(0)} ms elapsed (min ${Math.min(...elapsed).toFixed(0)}), ` +
          `${median(cpu).toFixed(0)} ms CPU (min ${Math.min(...cpu).toFixed(0)}), over ${REPEAT} runs`,
      );
    };
    await measure('readRecording (an array of events)', async () => (await readRecording([file])).length);
    // A full collection before each reading of the heap, so that it counts what is kept only.
    setFlagsFromString('--expose-gc');
    const collect = runInNewContext('gc') as () => void;
    collect();
    const heapBefore = process.memoryUsage().heapUsed;
    const kept = await readRecording([file]);
    collect();
    const heapMiB = (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20;
    console.log(`keeping the ${kept.length} events of readRecording takes about ${heapMiB.toFixed(0)} MiB of heap`);
    kept.length = 0;
    await measure('visitRecording (one event at a time)', async () => {
      let count = 0;
      await visitRecording([file], () => count++);
      return count;
    });
    await replayWholeCommand(dir, file);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * `netgwm replay --recorded` on the day, the whole command as an admin runs it (bin/netgwm with its
 * code cache, which the warm-up runs make), next to Node's own start; no CA certificates to load,
 * as under cron. The config names the day's gateways and sites.
 */
async function replayWholeCommand(dir: string, file: string): Promise<void> {
  const config = join(dir, 'netgwm.yml');
  const sites = GATEWAYS[0]!.sites.map(({ site }) => site);
  const gateways = GATEWAYS.map(({ name }, i) => `  ${name}: {ip: 198.51.100.${i + 1}, priority: ${i + 1}}`);
  await writeFile(config, ['gateways:', ...gateways, `check_sites: [${sites.join(', ')}]`, 'check_table: 194', ''].join('\n'));
  const netgwm = fileURLToPath(new URL('../bin/netgwm', import.meta.url));
  const env: Record<string, string | undefined> = { ...process.env, NETGWM_CACHE_DIR: join(dir, 'cache') };
  delete env.NODE_EXTRA_CA_CERTS;
  const runs = ['--warmup', '2', '--runs', String(REPEAT), '--style', 'basic'];
  const replay = `node ${netgwm} replay -c ${config} --recorded ${file}`;
  console.log(`\n${DAYS} day(s) replayed by \`netgwm replay --recorded\` (hyperfine):`);
  await execa('hyperfine', ['-N', ...runs, '-n', 'node -e 0', 'node -e 0', '-n', 'netgwm replay --recorded', replay], {
    env,
    extendEnv: false,
    stdout: 'inherit',
    stderr: 'inherit',
  });
}

await main();
