// How fast `netgwm replay` runs a day of probes: 2 gateways × 2 sites at the default probe
// settings (a round every 0.15 s per gateway: 1.15 M rounds), built in memory (no file to decode),
// replayed through the daemon's policy (src/core/replay.ts) with housekeeping every 60 s.
// A figure for the README (issue 11 asks under 1 s), never a test: `npx tsx scripts/replay-speed.ts`.
import { healthSettings } from '../src/config/health.js';
import { configSchema } from '../src/config/schema.js';
import { probePorts } from '../src/config/probe-paths.js';
import type { ProbeEvent } from '../src/core/probe-events.js';
import { initialHealth, observeRound, type GatewayHealth } from '../src/core/health.js';
import { prng } from '../src/core/prng.js';
import { replayDaemon } from '../src/core/replay.js';
import type { Gateway } from '../src/core/types.js';

const DAY_MS = 86_400_000;
const RUNS = Number(process.env.REPLAY_SPEED_RUNS ?? 5);

/** A day of rounds: 1 % of echoes lost at random, a 10 min outage of the primary at noon. */
export function syntheticDay(gateways: string[], sites: string[], intervalMs: number, timeoutMs: number): ProbeEvent[] {
  const random = prng(42);
  const events: ProbeEvent[] = [];
  for (let at = 0; at < DAY_MS; at += intervalMs) {
    for (const gateway of gateways) {
      const outage = gateway === gateways[0] && at >= DAY_MS / 2 && at < DAY_MS / 2 + 600_000;
      let settledAt = at;
      const echoes = sites.map((site) => {
        const rttMs = 10 + random.next() * 20;
        const answered = !outage && random.next() >= 0.01;
        settledAt = Math.max(settledAt, at + (answered ? rttMs : timeoutMs));
        return answered ? { site, answered, rttMs } : { site, answered };
      });
      events.push({ kind: 'round', gateway, at, settledAt, echoes });
    }
  }
  return events.sort((a, b) => (a.kind === 'round' ? a.settledAt : a.at) - (b.kind === 'round' ? b.settledAt : b.at));
}

const file = configSchema.parse({
  gateways: { isp1: { ip: '192.0.2.1', priority: 1 }, isp2: { ip: '198.51.100.1', priority: 2 } },
  check_sites: ['192.0.2.53', '203.0.113.53'],
});
const gateways: Gateway[] = Object.entries(file.gateways).map(([name, gateway], i) => ({
  name,
  ...gateway,
  probe: { mark: 0x4e470001 + i, table: 195 + i, ports: probePorts(file.probe.port_base, i + 1) },
}));
const settings = healthSettings(file);
let started = performance.now();
const events = syntheticDay(
  gateways.map((gateway) => gateway.name),
  file.check_sites.filter((site) => typeof site === 'string'),
  settings.intervalMs,
  settings.timeoutMs,
);
const buildMs = performance.now() - started;
const setup = { gateways, settings, minUptimeMs: file.min_uptime * 1000, checkAllGateways: false, mode: 'auto', housekeepingMs: 60_000 };
const times: number[] = [];
let switches = 0;
for (let run = 0; run < RUNS; run++) {
  started = performance.now();
  const result = replayDaemon(setup, events, { startAt: 0, endAt: DAY_MS, start: 'isp1' });
  times.push(performance.now() - started);
  switches = result.switches.length;
}
times.sort((a, b) => a - b);
// The health state machine alone on the same rounds: what the rest of the replay adds is the difference.
const healthTimes: number[] = [];
for (let run = 0; run < RUNS; run++) {
  started = performance.now();
  const health = new Map<string, GatewayHealth>();
  for (const event of events) {
    if (event.kind !== 'round') continue;
    health.set(event.gateway, observeRound(health.get(event.gateway) ?? initialHealth(0), event, settings).health);
  }
  healthTimes.push(performance.now() - started);
}
healthTimes.sort((a, b) => a - b);
const ms = (value: number) => `${Math.round(value)} ms`;
process.stdout.write(
  `a day, 2 gateways × 2 sites at probe.interval ${settings.intervalMs / 1000} s: ${events.length} rounds (built in ${ms(buildMs)})\n` +
    `replay (daemon policy), ${RUNS} runs: median ${ms(times[Math.floor(RUNS / 2)]!)}, min ${ms(times[0]!)}, max ${ms(times.at(-1)!)}; ${switches} switches\n` +
    `of which the health state machine alone (observeRound on the same rounds): median ${ms(healthTimes[Math.floor(RUNS / 2)]!)}\n`,
);
