// The daemon: a cycle every interval, start to start; signals stop, reload or reopen the log.
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig, type Config } from './config/load.js';
import { runCycle, type CycleDeps } from './cycle.js';
import { ConfigError, LockBusyError } from './errors.js';
import type { Logger } from './log/logger.js';
import { startMetricsServer } from './report/metrics-server.js';

export interface DaemonOptions {
  config: Config;
  configFile: string;
  intervalMs: number;
  version: string;
  log: Logger;
  deps: CycleDeps;
}

/** A stop must finish within 2 s even if something hangs; the next run cleans any leftovers. */
const STOP_DEADLINE_MS = 1800;

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
        log.event({ kind: 'config-reloaded', file: fresh.file });
      },
      (error: unknown) =>
        log.event({
          kind: 'config-error',
          problems: error instanceof ConfigError ? [...error.problems, 'keeping the previous config'] : [String(error)],
        }),
    );
  };
  const onReopen = () => log.reopen();
  process.on('SIGTERM', onStop).on('SIGINT', onStop).on('SIGHUP', onReload).on('SIGUSR1', onReopen);

  log.event({ kind: 'daemon-started', intervalS: options.intervalMs / 1000, file: config.file, version: options.version });
  // Reads the config at each scrape, so a reload applies; a changed metrics_listen needs a restart.
  const metrics = await startMetricsServer(() => config, log);
  try {
    await runEvery(options.intervalMs, stop.signal, () =>
      runCycle(config, deps, stop.signal).catch((error: unknown) => {
        if (error instanceof LockBusyError) log.event({ kind: 'lock-busy', waitedMs: deps.lockWaitMs });
        else log.event({ kind: 'cycle-failed', error: (error as Error).message });
      }),
    );
  } finally {
    await metrics?.close();
    process.off('SIGTERM', onStop).off('SIGINT', onStop).off('SIGHUP', onReload).off('SIGUSR1', onReopen);
  }
  return 0;
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
