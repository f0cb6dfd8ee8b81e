// The daemon: watches every uplink continuously (src/monitor.ts) and decides the moment a
// gateway becomes usable or unusable, loses its carrier, or becomes stable enough to fail back
// to; a housekeeping cycle every interval, start to start, verifies probe paths, routes and the
// nft table and saves the state. With `record`, what the monitor sees goes to the probe recording
// (src/state/recorder.ts); with `web_listen`, to the status page's series (src/state/series-store.ts).
// Signals stop, reload or reopen the log.
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig, type Config } from './config/load.js';
import { familyView, pathKey, type Family } from './config/families.js';
import type { RecordSettings } from './config/record.js';
import { nextStableAt } from './core/decide.js';
import { nextMemberStableAt } from './core/balance.js';
import { balanceNeeded } from './balance.js';
import type { Observations } from './core/types.js';
import type { Series } from './core/series.js';
import { runCycle, type CycleDeps, type FamilyStates, type Observe } from './cycle.js';
import { ConfigError, LockBusyError } from './errors.js';
import type { Logger } from './log/logger.js';
import type { ProbeTarget } from './probe/resolve.js';
import { pathsOf, startMonitor, type EchoMethod } from './monitor.js';
import { openRecorder, type Recorder } from './state/recorder.js';
import { openSeriesStore } from './state/series-store.js';
import { startServers } from './web/servers.js';
import { watchLinks } from './system/link-monitor.js';

export interface DaemonOptions {
  config: Config;
  configFile: string;
  intervalMs: number;
  version: string;
  log: Logger;
  deps: CycleDeps;
  /** How the continuous echoes are sent (the probe method chosen at start). */
  echoMethod: EchoMethod;
}

/** A stop must finish within 2 s even if something hangs; the next run cleans any leftovers. */
const STOP_DEADLINE_MS = 1800;
/**
 * Route events wait this long for the rest of their burst (a DHCP client flushes, then adds) and
 * run at most one cycle per this long: a route that someone else keeps changing back costs a few
 * cycles a second, not a loop; a changed gateway is followed well within a second.
 */
const ROUTE_EVENT_GAP_MS = 200;

export async function runDaemon(options: DaemonOptions): Promise<number> {
  const { log, deps } = options;
  let config = options.config;
  const stop = new AbortController();

  const onStop = (signal: NodeJS.Signals) => {
    if (stop.signal.aborted) return;
    log.event({ kind: 'daemon-stopping', signal });
    stop.abort();
    setTimeout(() => process.exit(0), STOP_DEADLINE_MS).unref();
  };
  const onReload = () => {
    log.reopen();
    loadConfig(options.configFile).then(
      (fresh) => {
        config = fresh;
        log.setLevel(fresh.log_level);
        useRecording(fresh.record);
        series?.keep(pathKeys(fresh));
        log.event({ kind: 'config-reloaded', file: fresh.file });
        void decide(); // the monitor takes the new gateways and sites from the cycle
      },
      (error: unknown) =>
        log.event({
          kind: 'config-error',
          problems: error instanceof ConfigError ? [...error.problems, 'keeping the previous config'] : [String(error)],
        }),
    );
  };
  const onReopen = () => log.reopen();

  log.event({ kind: 'daemon-started', intervalS: options.intervalMs / 1000, file: config.file, version: options.version });
  // The page's graphs, kept only when there is a page to show them (2 rings per path, README "Status page").
  const series = config.web_listen ? await openSeriesStore({ stateDir: config.state_dir, paths: pathKeys(config), log }) : undefined;
  const noSeries: Series = new Map();
  // Read the config at each request, so a reload applies; a changed address needs a restart.
  const servers = await startServers(() => config, { log, exec: deps.exec, series: () => series?.series ?? noSeries, now: Date.now });

  let failback: NodeJS.Timeout | undefined;
  /** After a decision: wake up when a better gateway becomes stable (in either family), not at the next housekeeping. */
  const scheduleFailback = (states: FamilyStates) => {
    clearTimeout(failback);
    const minUptimeMs = config.min_uptime * 1000;
    const times = config.families.flatMap((family) => {
      const state = states[family];
      if (!state) return [];
      const view = familyView(config, family);
      const failbackAt = nextStableAt({ gateways: view.gateways, state, current: state.active, minUptimeMs });
      // With shares, a member that came back rejoins its tier the moment it is stable.
      const rejoinAt = balanceNeeded(view) ? nextMemberStableAt(state.gateways, state.lastCycleAt ?? 0, minUptimeMs) : undefined;
      return [failbackAt, rejoinAt];
    });
    const at = times.filter((time) => time !== undefined).sort((a, b) => a - b)[0];
    if (at !== undefined) failback = setTimeout(() => void decide(), Math.max(0, at - deps.clock()) + 10).unref();
  };
  // What the monitor sees goes to the probe recording (flushed every few seconds by the recorder).
  let recorder: Recorder | undefined;
  let recording: RecordSettings | false = false;
  const useRecording = (settings: RecordSettings | false) => {
    if (settings === recording || (settings && recording && settings.file === recording.file && settings.max_size === recording.max_size))
      return;
    void recorder?.close();
    recorder = settings ? openRecorder({ file: settings.file, maxBytes: settings.max_size, log }) : undefined;
    recording = settings;
  };
  useRecording(config.record);
  const monitor = startMonitor(config, {
    log,
    clock: deps.clock,
    method: options.echoMethod,
    onDecisionNeeded: () => void decide(),
    record: (event) => {
      recorder?.record(event);
      series?.record(event);
    },
    probeSite: deps.probeSite,
  });
  // Each family's cycle hands over its sites and probe devices; the monitor watches every path.
  const targets: Partial<Record<Family, ProbeTarget[]>> = {};
  const devices: Record<string, string> = {};
  const observe: Observe = async (sites) => {
    targets[sites.family] = sites.targets;
    for (const [name, dev] of Object.entries(sites.devices)) devices[pathKey(name, sites.family)] = dev;
    monitor.setTargets(config, targets);
    monitor.setDevices(devices);
    const all = monitor.observations();
    return all && familyObservations(all, sites.family);
  };
  const decide = coalesce(() =>
    runCycle(config, deps, stop.signal, observe).then(scheduleFailback, (error: unknown) => {
      if (stop.signal.aborted) return;
      if (error instanceof LockBusyError) log.event({ kind: 'lock-busy', waitedMs: deps.lockWaitMs });
      else log.event({ kind: 'cycle-failed', error: (error as Error).message });
    }),
  );
  // Carrier loss decides at once; a link coming back gets its probe route repaired (by the cycle)
  // and a round of echoes at once. A route or address change (a DHCP lease, a PPP session, an
  // `ip route flush`) runs a cycle, which repairs the probe paths and uplink tables and follows a
  // gateway whose address the kernel changed; a burst of changes runs one.
  process.on('SIGTERM', onStop).on('SIGINT', onStop).on('SIGHUP', onReload).on('SIGUSR1', onReopen);
  const routesChanged = throttle(() => void decide(), ROUTE_EVENT_GAP_MS);
  // IPv6 route and address changes too with IPv6 gateways (a router advertisement's new next hop).
  const links = watchLinks(
    (event) => {
      if (event.kind !== 'link') return routesChanged.request();
      for (const dev of monitor.onLink(event)) void decide().then(() => monitor.probeNow(dev));
    },
    { families: config.families },
  );
  try {
    await runEvery(options.intervalMs, stop.signal, decide);
  } finally {
    clearTimeout(failback);
    routesChanged.cancel();
    await Promise.all([links.stop(), monitor.stop(), servers.close()]);
    await Promise.all([recorder?.close(), series?.close()]);
    process.off('SIGTERM', onStop).off('SIGINT', onStop).off('SIGHUP', onReload).off('SIGUSR1', onReopen);
  }
  return 0;
}

/** Every path the monitor watches (`isp1`, `isp1/6`): the series of others are dropped. */
const pathKeys = (config: Config) => pathsOf(config).map((path) => path.name);

/** One family's part of the monitor's observations, keyed by gateway name again. */
export function familyObservations(all: Observations, family: Family): Observations {
  const suffix = pathKey('', family);
  return Object.fromEntries(
    Object.entries(all).flatMap(([key, observation]) => {
      const name = family === 6 ? (key.endsWith(suffix) ? key.slice(0, -suffix.length) : undefined) : key.includes('/') ? undefined : key;
      return name === undefined ? [] : [[name, observation]];
    }),
  );
}

export interface Timer {
  /** Monotonic milliseconds. */
  now: () => number;
  /** Resolves after `ms`, or early when `signal` aborts. */
  sleep: (ms: number, signal: AbortSignal) => Promise<void>;
}

const realTimer: Timer = {
  now: () => performance.now(),
  sleep: (ms, signal) => sleep(ms, undefined, { signal }).catch(() => undefined),
};

/**
 * Runs `work` every `intervalMs`, start to start, until `signal` aborts: a cycle that takes 0.4 s
 * of a 1 s interval is followed by 0.6 s of sleep, one that overruns by none (no catch-up burst).
 */
export async function runEvery(
  intervalMs: number,
  signal: AbortSignal,
  work: () => Promise<void>,
  timer: Timer = realTimer,
): Promise<void> {
  while (!signal.aborted) {
    const started = timer.now();
    await work();
    const left = intervalMs - (timer.now() - started);
    if (left > 0 && !signal.aborted) await timer.sleep(left, signal);
  }
}

/**
 * Runs `work` once `gapMs` after the first request, however many come meanwhile; the next request
 * after that starts the wait again.
 */
export function throttle(work: () => void, gapMs: number): { request(): void; cancel(): void } {
  let timer: NodeJS.Timeout | undefined;
  return {
    request() {
      timer ??= setTimeout(() => {
        timer = undefined;
        work();
      }, gapMs).unref();
    },
    cancel() {
      clearTimeout(timer);
      timer = undefined;
    },
  };
}

/**
 * Runs `work` now if it is not running; if it is, once more after it (however many ask meanwhile),
 * so a change seen during a decision is never lost and never decided twice in parallel.
 */
export function coalesce(work: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  let queued: Promise<void> | undefined;
  const request = (): Promise<void> => {
    if (!running) {
      running = work().finally(() => {
        running = undefined;
      });
      return running;
    }
    queued ??= running
      .then(undefined, () => undefined)
      .then(() => {
        queued = undefined;
        return request();
      });
    return queued;
  };
  return request;
}
