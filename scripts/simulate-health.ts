// Prints what the probe defaults give, simulated on a virtual clock with the daemon's own health
// state machine (see scripts/health-simulation.ts): hard-outage detection p50/p95 (echo timeouts
// and ~50 ms of switching included) and false downs in 30 min of random loss, for 1, 2 and 3 sites.
//   npx tsx scripts/simulate-health.ts [--runs 2000] [--loss-runs 200] [--seed N] [--compare]
//     [--interval S] [--timeout S] [--down N] [--up N] [--window S] [--loss_down PCT] [--loss_up PCT]
//     [--rtt MS] (the RTT's base, default 10 ms)
// --compare adds other candidate settings side by side.
import { parseArgs } from 'node:util';
import type { HealthSettings } from '../src/core/health.js';
import { healthSettings } from '../src/config/health.js';
import { configSchema } from '../src/config/schema.js';
import { DEFAULT_LINK, simulateLoss, simulateOutages, type OutageFigures } from './health-simulation.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '2000' },
    'loss-runs': { type: 'string', default: '200' },
    seed: { type: 'string', default: '20261130' },
    compare: { type: 'boolean', default: false },
    rtt: { type: 'string', default: String(DEFAULT_LINK.rttBaseMs) },
    interval: { type: 'string' },
    timeout: { type: 'string' },
    down: { type: 'string' },
    up: { type: 'string' },
    window: { type: 'string' },
    loss_down: { type: 'string' },
    loss_up: { type: 'string' },
  },
});

const probeKeys = ['interval', 'timeout', 'down', 'up', 'window', 'loss_down', 'loss_up'] as const;
const overrides = Object.fromEntries(probeKeys.flatMap((key) => (values[key] === undefined ? [] : [[key, Number(values[key])]])));
const defaults = configSchema.shape.probe.parse(undefined);
const chosen = healthSettings({ probe: { ...defaults, ...overrides } });

const candidates: Array<[string, HealthSettings]> = [[Object.keys(overrides).length ? 'given' : 'defaults', chosen]];
if (values.compare) {
  const variant = (name: string, change: Partial<typeof defaults>) =>
    candidates.push([name, healthSettings({ probe: { ...defaults, ...change } })]);
  variant('as first planned', { interval: 0.2, timeout: 0.4 });
  variant('interval 0.125', { interval: 0.125 });
  variant('interval 0.2', { interval: 0.2 });
  variant('timeout 0.4', { timeout: 0.4 });
  variant('down 2', { down: 2 });
  variant('down 4', { down: 4 });
  variant('timeout 0.6', { timeout: 0.6 });
  variant('window 10', { window: 10 });
}

const runs = Number(values.runs);
const lossRuns = Number(values['loss-runs']);
const seed = Number(values.seed);
const MINUTES = 30;
const link = { ...DEFAULT_LINK, rttBaseMs: Number(values.rtt) };

console.log(`seed ${seed}; ${runs} outages at random moments; ${lossRuns} runs of ${MINUTES} min at 10 % loss per site`);
console.log(
  `RTT ${link.rttBaseMs} ms + exponential tail (mean ${link.rttTailMs} ms), rounds up to ${link.jitterMs} ms late, outage → route moved includes 50 ms of switching\n`,
);
console.log(
  '| settings | echoes/s per gateway (2 sites) | outage p50 / p95 / max | same at 10 % loss | false downs / 30 min at 10 % loss, 1 site | 2 sites | 3 sites | up↔degraded changes / 30 min, 2 sites |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
for (const [name, settings] of candidates) {
  const outage = simulateOutages(settings, link, runs, seed);
  const lossyOutage = simulateOutages(settings, { ...link, lossPct: 10 }, runs, seed);
  const loss = [1, 2, 3].map((sites) => simulateLoss(settings, { ...link, sites, lossPct: 10 }, lossRuns, MINUTES * 60_000, seed + sites));
  const perRun = (count: number) => (count / lossRuns).toFixed(3);
  const falseDowns = loss.map((figures) => `${perRun(figures.downs)} (${figures.runsWithDown}/${lossRuns} runs)`);
  const describe = `${name}: interval ${settings.intervalMs / 1000}, timeout ${settings.timeoutMs / 1000}, down ${settings.down}, up ${settings.up}, window ${settings.windowMs / 1000}`;
  const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  const figures = (o: OutageFigures) =>
    `${seconds(o.p50)} / ${seconds(o.p95)} / ${seconds(o.max)}${o.missed ? ` (${o.missed} missed)` : ''}`;
  console.log(
    `| ${describe} | ${(2000 / settings.intervalMs).toFixed(1)} | ${figures(outage)} | ${figures(lossyOutage)} | ${falseDowns.join(' | ')} | ${perRun(loss[1]!.degradedChanges)} |`,
  );
}
