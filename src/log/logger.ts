// pino records every event once; each destination renders it as a readable line (or keeps
// pino's JSON) at its own minimum level. Where the destinations are is decided by the caller.
import { closeSync, constants, fstatSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { pino, type DestinationStream } from 'pino';
import { escapeControl } from './escape.js';
import { levelOf, lineOf, type Level, type NetgwmEvent } from './events.js';
import { localTime } from './time.js';

export { localTime } from './time.js';

export interface Destination {
  write(text: string): unknown;
  /** Reopen the file after logrotate moved it. */
  reopen?(): void;
}

export interface Output {
  to: Destination;
  level: Level;
  format: 'text' | 'json';
  /** journald timestamps lines itself and reads `<N>` priority prefixes (which replace the level word). */
  style?: 'plain' | 'journal';
  /** Keep `level` when the config's log_level changes (stderr of a cron run: problems only). */
  fixedLevel?: boolean;
}

export interface Logger {
  event(event: NetgwmEvent): void;
  reopen(): void;
  /** Lower or raise a level at run time (e.g. after a config reload). */
  setLevel(level: Level): void;
}

const LEVELS: Record<Level, number> = { debug: 20, info: 30, warn: 40, error: 50 };
const NAMES: Record<number, string> = { 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const SYSLOG_PRIORITY: Record<number, number> = { 20: 7, 30: 6, 40: 4, 50: 3, 60: 2 };

export function createLogger(outputs: Output[]): Logger {
  const fanOut: DestinationStream = {
    write(json: string) {
      const record = JSON.parse(json) as { level: number; time: number; msg: string };
      for (const output of outputs) {
        if (record.level < LEVELS[output.level]) continue;
        output.to.write(output.format === 'json' ? json : renderText(record, output.style ?? 'plain'));
      }
    },
  };
  const lowest = () => outputs.map((output) => output.level).sort((a, b) => LEVELS[a] - LEVELS[b])[0] ?? 'info';
  const log = pino({ base: undefined, level: lowest() }, fanOut);
  return {
    event(event) {
      const { kind, ...fields } = event;
      log[levelOf(event)]({ event: kind, ...fields }, lineOf(event));
    },
    reopen() {
      for (const output of outputs) {
        try {
          output.to.reopen?.();
        } catch (error) {
          // Logging must never take the daemon down: say so where it still can be read.
          process.stderr.write(`netgwm: cannot reopen the log (${(error as Error).message}); logging continues to the other outputs\n`);
        }
      }
    },
    setLevel(level) {
      for (const output of outputs) if (!output.fixedLevel) output.level = level;
      log.level = lowest();
    },
  };
}

/** One line, whatever the message holds (JSON lines are escaped by JSON itself). */
function renderText(record: { level: number; time: number; msg: string }, style: 'plain' | 'journal'): string {
  const level = NAMES[record.level] ?? String(record.level);
  const msg = escapeControl(record.msg);
  // The priority is the level: journalctl shows and filters by it, so the word would repeat it.
  if (style === 'journal') return `<${SYSLOG_PRIORITY[record.level] ?? 6}>${msg}\n`;
  return `${localTime(new Date(record.time))} ${level} ${msg}\n`;
}

/** Lines kept in memory while the log file cannot be written; more are dropped. */
const UNWRITTEN_LOG_BYTES = 1024 * 1024;

/**
 * The log file, appended to synchronously so a cron run's lines are on disk when it exits. A
 * write that fails (a full disk) loses lines, never the cycle: the destination's 'error' event
 * would otherwise be thrown out of the logging call, after the route changed and before the
 * hooks. It is said once on stderr, and writing resumes when the disk has room again.
 */
export function openLogFile(path: string): Destination {
  refuseFifo(path);
  const file = pino.destination({ dest: path, append: true, sync: true, mkdir: true, maxLength: UNWRITTEN_LOG_BYTES });
  let failing = false;
  file.on('error', (error: Error) => {
    if (!failing)
      process.stderr.write(
        `netgwm: cannot write the log file ${path} (${error.message}); its lines are held back or dropped until it can\n`,
      );
    failing = true;
  });
  file.on('write', () => (failing = false));
  return file;
}

/**
 * Opening a FIFO for writing waits for a reader: a `log_file` that is one would hang every run.
 * Opened non-blocking first, it fails at once (ENXIO) or is seen by fstat. Devices such as
 * /dev/null stay allowed.
 */
function refuseFifo(path: string): void {
  mkdirSync(dirname(path), { recursive: true });
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NONBLOCK | constants.O_NOCTTY, 0o644);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENXIO') throw new Error(`${path} is a FIFO, not a regular file`);
    throw error;
  }
  try {
    const stats = fstatSync(fd);
    if (stats.isFIFO() || stats.isSocket()) throw new Error(`${path} is a ${stats.isFIFO() ? 'FIFO' : 'socket'}, not a regular file`);
  } finally {
    closeSync(fd);
  }
}
