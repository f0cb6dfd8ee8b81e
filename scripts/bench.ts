// `npm run bench`: wall time of whole `netgwm run` processes on a namespace network, for a healthy
// run, a failover from a dead primary and all uplinks dead; 3 uplinks × 2 sites and 8 × 4.
// Prints figures; asserts nothing.
import { execa } from 'execa';
import { Harness } from '../test/e2e/harness.js';

const REPEAT = Number(process.env.BENCH_REPEAT ?? 7);

interface Figures {
  label: string;
  ms: number[];
}

async function time(h: Harness, before: () => Promise<void>): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < REPEAT; i++) {
    await before();
    const started = performance.now();
    const result = await h.run();
    times.push(performance.now() - started);
    if (result.exitCode !== 0) throw new Error(`netgwm run failed: ${result.stderr}`);
  }
  return times;
}

async function scenario(uplinks: number, sites: number): Promise<Figures[]> {
  const h = await Harness.create({ uplinks, sites, config: { min_uptime: 0, probe: { timeout: 1 }, log_level: 'info' } });
  try {
    const all = h.net.uplinks.map((uplink) => uplink.index);
    const onPrimary = async () => {
      for (const i of all) await h.net.restoreOperator(i);
      if ((await h.currentGateway()) !== 'isp1') await h.run();
    };
    await onPrimary();
    const healthy = await time(h, async () => {});
    const failover = await time(h, async () => {
      await onPrimary();
      await h.net.failOperator(1);
    });
    if ((await h.currentGateway()) !== 'isp2') throw new Error('the failover run did not move to isp2');
    const allDead = await time(h, async () => {
      await onPrimary();
      for (const i of all) await h.net.failOperator(i);
    });
    const tag = `${uplinks} uplinks × ${sites} sites`;
    return [
      { label: `${tag}: healthy run`, ms: healthy },
      { label: `${tag}: failover from a dead primary`, ms: failover },
      { label: `${tag}: all uplinks dead`, ms: allDead },
    ];
  } finally {
    await h.destroy();
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function main(): Promise<void> {
  const nodeVersion = (await execa(process.execPath, ['--version'])).stdout;
  console.log(`netgwm run, wall time of the whole process (ip netns exec + node ${nodeVersion}), ${REPEAT} runs each, probe timeout 1 s`);
  console.log('scenario'.padEnd(48), 'median'.padStart(9), 'min'.padStart(9), 'max'.padStart(9));
  for (const [uplinks, sites] of [[3, 2], [8, 4]] as const) {
    for (const figures of await scenario(uplinks, sites)) {
      const cells = [median(figures.ms), Math.min(...figures.ms), Math.max(...figures.ms)].map((ms) => `${(ms / 1000).toFixed(3)} s`.padStart(9));
      console.log(figures.label.padEnd(48), ...cells);
    }
  }
}

main().catch((error: unknown) => {
  console.error(`bench failed: ${(error as Error).message}`);
  process.exitCode = 1;
});
