// A long-lived command whose stdout is read line by line (`ip monitor`, a continuous `ping`),
// started again with a growing delay whenever it exits, until stopped.
import { createInterface } from 'node:readline';
import { execa, type ResultPromise } from 'execa';
import { commandPath } from './command-path.js';
import { startProcess } from './spawn-guard.js';

export interface LineProcessOptions {
  /** Called with every line of stdout (without its newline). */
  onLine: (line: string) => void;
  /** Called when the command ended (or could not start) and will be restarted; `why` is its last stderr line or exit status. */
  onExit?: (why: string) => void;
  /** Delay before the first restart, ms; doubled after every exit up to `maxRestartDelayMs`. */
  restartDelayMs?: number;
  maxRestartDelayMs?: number;
  /** A run this long counts as healthy: the next restart starts from `restartDelayMs` again. */
  healthyRunMs?: number;
}

export interface LineProcess {
  /** Starts the command again now, without delay: kills the running one, if any, first. */
  restartNow(): void;
  /** Kills the command (if running), cancels any pending restart, resolves once it has exited. */
  stop(): Promise<void>;
  /** The running command's pid, for tests; undefined while waiting to restart. */
  readonly pid: number | undefined;
}

const DEFAULT_RESTART_DELAY_MS = 200;
const DEFAULT_MAX_RESTART_DELAY_MS = 5000;
const DEFAULT_HEALTHY_RUN_MS = 10_000;

/** Starts `file args` (argument array, no shell) at once and keeps it running until `stop()`. */
export function startLineProcess(file: string, args: string[], options: LineProcessOptions): LineProcess {
  const minDelay = options.restartDelayMs ?? DEFAULT_RESTART_DELAY_MS;
  const maxDelay = options.maxRestartDelayMs ?? DEFAULT_MAX_RESTART_DELAY_MS;
  const healthyRunMs = options.healthyRunMs ?? DEFAULT_HEALTHY_RUN_MS;
  let delay = minDelay;
  let stopped = false;
  let child: ResultPromise | undefined;
  let exited: Promise<void> = Promise.resolve();
  let restartTimer: NodeJS.Timeout | undefined;
  let restartAtExit = false; // restartNow() killed the command: start it again at once

  const start = (): void => {
    restartTimer = undefined;
    const startedAt = performance.now();
    const started = startProcess(file, () =>
      execa(file, args, { stdin: 'ignore', buffer: false, reject: false, env: { LC_ALL: 'C', PATH: commandPath() } }),
    );
    if (started instanceof Error) {
      scheduleRestart(started.message, startedAt);
      return;
    }
    child = started;
    let lastError = '';
    createInterface({ input: started.stdout }).on('line', (line) => {
      if (!stopped) options.onLine(line);
    });
    createInterface({ input: started.stderr }).on('line', (line) => {
      if (line.trim() !== '') lastError = line.trim();
    });
    exited = started.then((result) => {
      child = undefined;
      if (stopped) return;
      if (restartAtExit) {
        restartAtExit = false;
        options.onExit?.(`${file}: restarted`);
        start();
        return;
      }
      const status = result.exitCode === undefined ? `killed by ${result.signal ?? 'a signal'}` : `exit code ${result.exitCode}`;
      const why = result.failed && result.exitCode === undefined && result.signal === undefined ? result.shortMessage : lastError || status;
      scheduleRestart(`${file}: ${why}`, startedAt);
    });
  };

  const scheduleRestart = (why: string, startedAt: number): void => {
    if (performance.now() - startedAt >= healthyRunMs) delay = minDelay;
    options.onExit?.(why);
    restartTimer = setTimeout(start, delay);
    delay = Math.min(delay * 2, maxDelay);
  };

  start();
  return {
    restartNow() {
      if (stopped) return;
      if (child !== undefined) {
        restartAtExit = true;
        child.kill();
      } else if (restartTimer !== undefined) {
        clearTimeout(restartTimer);
        start();
      }
    },
    async stop() {
      stopped = true;
      clearTimeout(restartTimer);
      restartTimer = undefined;
      child?.kill();
      await exited;
    },
    get pid() {
      return child?.pid;
    },
  };
}
