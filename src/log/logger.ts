// pino records every event once; each destination renders it as a readable line (or keeps
// pino's JSON) at its own minimum level. Where the destinations are is decided by the caller.
// pino is loaded when the first line is written, not before: a healthy cron run writes none.
import { closeSync, constants, fstatSync, mkdirSync, openSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import type { DestinationStream, Logger as PinoLogger } from 'pino';
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

/** An event of one address family's cycle: IPv6 ones say so (README "IPv6"). */
export type FamilyEvent = NetgwmEvent & { family?: 6 };

export interface Logger {
  event(event: FamilyEvent): void;
  reopen(): void;
  /** Lower or raise a level at run time (e.g. after a config reload). */
  setLevel(level: Level): void;
}

const LEVELS: Record<Level, number> = { debug: 20, info: 30, warn: 40, error: 50 };
const NAMES: Record<number, string> = { 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const SYSLOG_PRIORITY: Record<number, number> = { 20: 7, 30: 6, 40: 4, 50: 3, 60: 2 };

type Pino = typeof import('pino');
let pinoModule: Pino | undefined;

/**
 * pino on first use. Loading it (with worker_threads and assert, which it loads) is a cost every
 * run paid before its first line, and a healthy cron run logs nothing. Synchronous, since a
 * line is written when its event happens: in the bundle (CommonJS) esbuild turns `require`
 * into its bundled copy of pino; under tsx (plain ES modules) there is no `require`, so one is made.
 */
function loadPino(): Pino {
  pinoModule ??= (typeof require === 'function' ? require('pino') : createRequire(import.meta.url)('pino')) as Pino;
  return pinoModule;
}

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
  let log: PinoLogger | undefined;
  return {
    event(event) {
      const level = levelOf(event);
      if (LEVELS[level] < LEVELS[lowest()]) return; // what pino would do, without loading it
      log ??= loadPino().pino({ base: undefined, level: lowest() }, fanOut);
      const { kind, ...fields } = event;
      log[level]({ event: kind, ...fields }, event.family === 6 ? `IPv6: ${lineOf(event)}` : lineOf(event));
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
      if (log) log.level = lowest();
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
  refuseFifo(path); // also proves it can be opened for appending: a later open failing is a race
  let file: ReturnType<Pino['pino']['destination']> | undefined;
  let failing = false;
  const fail = (error: Error) => {
    if (!failing)
      process.stderr.write(
        `netgwm: cannot write the log file ${path} (${error.message}); its lines are held back or dropped until it can\n`,
      );
    failing = true;
  };
  // Opened with the first line (pino's loaded then too); until then there is nothing to reopen.
  const open = () => {
    if (file) return file;
    file = loadPino().pino.destination({ dest: path, append: true, sync: true, mkdir: true, maxLength: UNWRITTEN_LOG_BYTES });
    file.on('error', fail);
    file.on('write', () => (failing = false));
    return file;
  };
  return {
    write(text) {
      try {
        return open().write(text);
      } catch (error) {
        fail(error as Error); // the file went between refuseFifo and now: the line is lost, not the cycle
        return false;
      }
    },
    reopen: () => file?.reopen(),
  };
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

/** The logger of one family's cycle: IPv6 events carry `family: 6` and their lines start with `IPv6: `. */
export function familyLogger(log: Logger, family: 4 | 6 | undefined): Logger {
  if (family !== 6) return log;
  return {
    event: (event) => log.event({ ...event, family: 6 }),
    reopen: () => log.reopen(),
    setLevel: (level) => log.setLevel(level),
  };
}
