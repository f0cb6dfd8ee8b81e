// Keeps the status page's series (src/core/series.ts) across restarts in STATE_DIR/series/: a
// snapshot of the whole rings (series.bin) and a journal (series.journal) of the buckets closed
// since. Every minute only the newly closed buckets are appended to the journal; the snapshot is
// written again (atomically, then a fresh journal) when the journal has grown to half its size,
// or when there is no usable one. At stop the open buckets are appended too. Read at start:
// snapshot, then the journal's whole records. A damaged file is logged and what can be used is
// used; a write that fails (full disk) leaves the files as they were, is logged once until one
// works again, and is tried again at the next save. Monitoring never waits for the files and
// never sees their errors.
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import type { ProbeEvent } from '../core/probe-events.js';
import { emptyPath, keepPaths, lastClosedBucket, recordEvent, restoreBucket, sentBuckets, type Series } from '../core/series.js';
import type { Logger } from '../log/logger.js';
import { readRegularBytes } from '../system/regular-file.js';
import { LIMITS } from '../config/schema.js';
import { decodeSeries, encodeSeries, MAX_HEADER_BYTES, PATH_BYTES } from './series-format.js';
import { encodeJournalRecord, type JournalPath, journalHeader, readJournal, RINGS } from './series-journal.js';
import { writeFileAtomic } from './store.js';

export const SERIES_FILE = join('series', 'series.bin');
export const JOURNAL_FILE = join('series', 'series.journal');
export const DEFAULT_SAVE_EVERY_MS = 60_000;
/** Every path a config can have (each gateway in both families); the journal stays under half of it. */
const MAX_FILE_BYTES = 2 * LIMITS.gateways * PATH_BYTES + MAX_HEADER_BYTES;

export interface SeriesStore {
  readonly series: Series;
  /** Takes what the monitor saw (never throws, never waits). */
  record(event: ProbeEvent): void;
  /** Keeps the paths a (reloaded) config names, drops the rest. */
  keep(keys: Iterable<string>): void;
  /** Appends the buckets closed since the last save, or writes the snapshot (never throws: a failure is logged). */
  save(): Promise<void>;
  /** Stops the timer and saves, the open buckets too; later events are ignored. */
  close(): Promise<void>;
}

export interface SeriesStoreOptions {
  stateDir: string;
  /** The configured path keys (`isp1`, `isp1/6`): the files' other paths are dropped. */
  paths: Iterable<string>;
  log: Logger;
  /** 0: only when save() or close() is called. */
  saveEveryMs?: number;
}

/** What is on disk: the snapshot the journal continues, and where the journal's next record goes. */
interface OnDisk {
  /** undefined: no usable snapshot and journal; the next save writes both. */
  snapshotId?: string;
  snapshotBytes: number;
  /** Bytes of the journal's whole records; anything after them (an append cut short) is cut off before the next. */
  journalEnd: number;
}

type Marks = Record<(typeof RINGS)[number], number>;

export async function openSeriesStore(options: SeriesStoreOptions): Promise<SeriesStore> {
  const { log } = options;
  const file = join(options.stateDir, SERIES_FILE);
  const journalFile = join(options.stateDir, JOURNAL_FILE);
  const { series, disk } = await loadSeries(file, journalFile, new Set(options.paths), log);
  keepPaths(series, options.paths);
  /** Per path and ring: the newest bucket the files hold for good (closed when saved). */
  const saved = new Map<string, Marks>();
  const markSaved = () => {
    for (const [key, path] of series) saved.set(key, { fine: lastClosedBucket(path, 'fine'), coarse: lastClosedBucket(path, 'coarse') });
  };
  markSaved();
  let failing: string | undefined;
  let closed = false;
  let saving: Promise<void> = Promise.resolve();

  const writeSnapshot = async () => {
    const id = randomBytes(8).toString('hex');
    const bytes = encodeSeries(series, id);
    const journal = journalHeader(id);
    // Snapshot first: a crash before the fresh journal leaves the older one, which it holds.
    await writeFileAtomic(file, bytes);
    disk.snapshotId = undefined;
    await writeFileAtomic(journalFile, journal);
    Object.assign(disk, { snapshotId: id, snapshotBytes: bytes.length, journalEnd: journal.length });
    markSaved();
  };

  /** The buckets closed since the last save (every bucket at stop), per path. */
  const unsaved = (all: boolean): { paths: JournalPath[]; upTo: Map<string, Marks> } => {
    const paths: JournalPath[] = [];
    const upTo = new Map<string, Marks>();
    for (const [key, path] of series) {
      const marks = { fine: -1, coarse: -1 };
      const buckets: JournalPath['buckets'] = [];
      for (const ring of RINGS) {
        const tier = path[ring];
        let after = saved.get(key)?.[ring] ?? -1;
        if (after > tier.newest) after = -1; // the ring started afresh (the clock went back a day)
        marks[ring] = all ? tier.newest : lastClosedBucket(path, ring);
        buckets.push(...sentBuckets(tier, after, marks[ring]).map((sums) => ({ ring, ...sums })));
      }
      upTo.set(key, marks);
      if (buckets.length > 0) paths.push({ key, buckets });
    }
    return { paths, upTo };
  };

  const appendJournal = async (all: boolean) => {
    const { paths, upTo } = unsaved(all);
    if (paths.length === 0) return;
    // Never created here: records without the header would be no journal.
    const handle = await open(journalFile, constants.O_WRONLY | constants.O_APPEND).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
    if (!handle) return writeSnapshot(); // gone from under the store
    try {
      const { size } = await handle.stat();
      if (size < disk.journalEnd) return await writeSnapshot(); // cut by someone else
      if (size > disk.journalEnd) await handle.truncate(disk.journalEnd);
      const record = encodeJournalRecord(paths);
      await handle.writeFile(record);
      disk.journalEnd += record.length;
    } finally {
      await handle.close();
    }
    for (const [key, marks] of upTo) saved.set(key, marks);
  };

  const write = async (all: boolean) => {
    const snapshot = disk.snapshotId === undefined || disk.journalEnd >= disk.snapshotBytes / 2;
    try {
      if (snapshot) await writeSnapshot();
      else await appendJournal(all);
      if (failing !== undefined) log.event({ kind: 'series-saved-again', file });
      failing = undefined;
    } catch (error) {
      const message = (error as Error).message;
      if (failing === undefined) log.event({ kind: 'series-save-failed', file: snapshot ? file : journalFile, error: message });
      failing = message;
    }
  };
  // One write at a time: a slow disk never piles them up.
  const save = (all = false) => {
    saving = saving.then(() => write(all));
    return saving;
  };
  const every = options.saveEveryMs ?? DEFAULT_SAVE_EVERY_MS;
  const timer = every > 0 ? setInterval(() => void save(), every).unref() : undefined;
  return {
    series,
    record(event) {
      if (!closed) recordEvent(series, event);
    },
    keep(keys) {
      keepPaths(series, keys);
      keepPaths(saved, keys);
    },
    save: () => save(),
    async close() {
      if (closed) return saving;
      closed = true;
      clearInterval(timer);
      return save(true);
    },
  };
}

/** The snapshot, then the journal's whole records for the configured paths. */
async function loadSeries(
  file: string,
  journalFile: string,
  configured: Set<string>,
  log: Logger,
): Promise<{ series: Series; disk: OnDisk }> {
  const disk: OnDisk = { snapshotBytes: 0, journalEnd: 0 };
  const snapshot = await readSeriesFile(file, log);
  if (!snapshot) return { series: new Map(), disk };
  const decoded = decodeSeries(snapshot);
  if ('problem' in decoded) {
    log.event({ kind: 'series-unreadable', file, problem: decoded.problem });
    return { series: new Map(), disk };
  }
  const { series } = decoded;
  const bytes = await readSeriesFile(journalFile, log);
  const journal = bytes && readJournal(bytes);
  if (journal && 'snapshotId' in journal && journal.snapshotId === decoded.journal) {
    for (const { key, buckets } of journal.paths) {
      if (!configured.has(key)) continue;
      const path = series.get(key) ?? emptyPath();
      series.set(key, path);
      for (const { ring, ...sums } of buckets) restoreBucket(path[ring], sums);
    }
    // A torn last record is cut off before the next append; after any other damage, a fresh snapshot.
    if (journal.problem === undefined)
      Object.assign(disk, { snapshotId: decoded.journal, snapshotBytes: snapshot.length, journalEnd: journal.validEnd });
  }
  if (journal?.problem !== undefined) log.event({ kind: 'series-unreadable', file: journalFile, problem: journal.problem });
  return { series, disk };
}

async function readSeriesFile(file: string, log: Logger): Promise<Buffer | undefined> {
  try {
    return await readRegularBytes(file, MAX_FILE_BYTES);
  } catch (error) {
    // None yet (ENOTDIR: something in the directory's place, which the first save will say).
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') log.event({ kind: 'series-unreadable', file, problem: (error as Error).message });
    return undefined;
  }
}
