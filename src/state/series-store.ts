// Keeps the status page's series (src/core/series.ts) across restarts in STATE_DIR/series/: read
// at start, written atomically every minute and at stop. A damaged file is logged and the series
// start afresh; a write that fails (full disk) leaves the previous file and is logged once until
// one works again. Monitoring never waits for the file and never sees its errors.
import { join } from 'node:path';
import type { ProbeEvent } from '../core/probe-events.js';
import { keepPaths, recordEvent, type Series } from '../core/series.js';
import type { Logger } from '../log/logger.js';
import { readRegularBytes } from '../system/regular-file.js';
import { LIMITS } from '../config/schema.js';
import { decodeSeries, encodeSeries, MAX_HEADER_BYTES, PATH_BYTES } from './series-format.js';
import { writeFileAtomic } from './store.js';

export const SERIES_FILE = join('series', 'series.bin');
export const DEFAULT_SAVE_EVERY_MS = 60_000;
/** Every path a config can have (each gateway in both families). */
const MAX_FILE_BYTES = 2 * LIMITS.gateways * PATH_BYTES + MAX_HEADER_BYTES;

export interface SeriesStore {
  readonly series: Series;
  /** Takes what the monitor saw (never throws, never waits). */
  record(event: ProbeEvent): void;
  /** Keeps the paths a (reloaded) config names, drops the rest. */
  keep(keys: Iterable<string>): void;
  /** Writes the file now (never throws: a failure is logged). */
  save(): Promise<void>;
  /** Stops the timer and saves; later events are ignored. */
  close(): Promise<void>;
}

export interface SeriesStoreOptions {
  stateDir: string;
  /** The configured path keys (`isp1`, `isp1/6`): the file's other paths are dropped. */
  paths: Iterable<string>;
  log: Logger;
  /** 0: only when save() or close() is called. */
  saveEveryMs?: number;
}

export async function openSeriesStore(options: SeriesStoreOptions): Promise<SeriesStore> {
  const { log } = options;
  const file = join(options.stateDir, SERIES_FILE);
  const series = await loadSeries(file, log);
  keepPaths(series, options.paths);
  let failing: string | undefined;
  let closed = false;
  let saving: Promise<void> = Promise.resolve();

  const write = async () => {
    try {
      await writeFileAtomic(file, encodeSeries(series));
      if (failing !== undefined) log.event({ kind: 'series-saved-again', file });
      failing = undefined;
    } catch (error) {
      const message = (error as Error).message;
      if (failing === undefined) log.event({ kind: 'series-save-failed', file, error: message });
      failing = message;
    }
  };
  // One write at a time: a slow disk never piles them up.
  const save = () => {
    saving = saving.then(write);
    return saving;
  };
  const every = options.saveEveryMs ?? DEFAULT_SAVE_EVERY_MS;
  const timer = every > 0 ? setInterval(() => void save(), every).unref() : undefined;
  return {
    series,
    record(event) {
      if (!closed) recordEvent(series, event);
    },
    keep: (keys) => keepPaths(series, keys),
    save,
    async close() {
      if (closed) return saving;
      closed = true;
      clearInterval(timer);
      return save();
    },
  };
}

async function loadSeries(file: string, log: Logger): Promise<Series> {
  let bytes: Buffer;
  try {
    bytes = await readRegularBytes(file, MAX_FILE_BYTES);
  } catch (error) {
    // None yet (ENOTDIR: something in the directory's place, which the first save will say).
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') log.event({ kind: 'series-unreadable', file, problem: (error as Error).message });
    return new Map();
  }
  const decoded = decodeSeries(bytes);
  if ('series' in decoded) return decoded.series;
  log.event({ kind: 'series-unreadable', file, problem: decoded.problem });
  return new Map();
}
