// `npm run bench:series`: the status page's series (README "Status page") for 5 gateways × 2
// families over 40 h of rounds at the default rate: the bytes written to STATE_DIR per day (the
// store's real saves, once a simulated minute, into a temporary directory: the journal's appends,
// and the snapshot each time the journal has grown to half its size) against rewriting the whole
// snapshot every minute; how long the daemon's event loop is busy encoding the
// snapshot and decoding it (at start), and building /api/series' points of each range. Prints
// figures (medians of BENCH_REPEAT runs, default 9); asserts nothing.
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ProbeEvent } from '../src/core/probe-events.js';
import { seriesPoints, type SeriesRange } from '../src/core/series.js';
import { decodeSeries, encodeSeries } from '../src/state/series-format.js';
import { JOURNAL_FILE, openSeriesStore, SERIES_FILE } from '../src/state/series-store.js';

const REPEAT = Number(process.env.BENCH_REPEAT ?? 9);
const T0 = Date.UTC(2026, 11, 1);
const ROUND_MS = 150;
const HOURS = 40;
const KEYS = [1, 2, 3, 4, 5].flatMap((gateway) => [`isp${gateway}`, `isp${gateway}/6`]);
const SNAPSHOT_ID = '0123456789abcdef';

function roundsOf(key: string, at: number): ProbeEvent {
  const rtt = 10 + ((at / ROUND_MS) % 17);
  return {
    kind: 'round',
    gateway: key,
    at,
    settledAt: at,
    echoes: [
      { site: 'a', answered: true, rttMs: rtt },
      { site: 'b', answered: at % 7 !== 0, rttMs: rtt },
    ],
  };
}

function median(work: () => void): number {
  const times = Array.from({ length: REPEAT }, () => {
    const started = performance.now();
    work();
    return performance.now() - started;
  }).sort((a, b) => a - b);
  return times[Math.floor(REPEAT / 2)]!;
}

const noLog = { event() {}, reopen() {}, setLevel() {} };
const dir = await mkdtemp(join(tmpdir(), 'netgwm-bench-series-'));
const store = await openSeriesStore({ stateDir: dir, paths: KEYS, log: noLog, saveEveryMs: 0 });
/** What the saves wrote: a new snapshot is a new inode; an append, what the journal grew by. */
let appended = 0;
let appends = 0;
const snapshotMinutes: number[] = [];
let previous = { ino: -1, journal: 0 };
for (let minute = 0; minute < HOURS * 60; minute++) {
  for (let at = T0 + minute * 60_000; at < T0 + (minute + 1) * 60_000; at += ROUND_MS)
    for (const key of KEYS) store.record(roundsOf(key, at));
  await store.save();
  const snapshot = await stat(join(dir, SERIES_FILE));
  const journal = (await stat(join(dir, JOURNAL_FILE))).size;
  if (snapshot.ino !== previous.ino) snapshotMinutes.push(minute);
  else if (minute >= 24 * 60) {
    // Once the rings are full, as on a router that has run a day.
    appended += journal - previous.journal;
    appends++;
  }
  previous = { ino: snapshot.ino, journal };
}
const wholeFile = encodeSeries(store.series, SNAPSHOT_ID);
await store.close();
await rm(dir, { recursive: true, force: true });

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(2)} MiB`;
console.log(
  `10 paths: snapshot ${wholeFile.length} bytes (${mib(wholeFile.length)}), ${wholeFile.indexOf(10) + 1} of them the header line`,
);
const journalPerDay = Math.round((appended / appends) * 1440);
const every = snapshotMinutes.at(-1)! - snapshotMinutes.at(-2)!;
const perDay = journalPerDay + Math.round((wholeFile.length * 1440) / every);
console.log(`journal: ${Math.round(appended / appends)} bytes a minute, ${journalPerDay} bytes (${mib(journalPerDay)}) a day`);
console.log(`snapshot written at minutes ${snapshotMinutes.join(', ')}: every ${(every / 60).toFixed(1)} h`);
console.log(`written a day (journal and snapshots): ${perDay} bytes (${mib(perDay)})`);
const before = wholeFile.length * 1440;
console.log(
  `the whole snapshot every minute instead: ${before} bytes (${mib(before)}) a day, ${(before / perDay).toFixed(0)} times as much`,
);
console.log(`encode the snapshot: ${median(() => encodeSeries(store.series, SNAPSHOT_ID)).toFixed(1)} ms`);
console.log(`decode (at start):   ${median(() => decodeSeries(wholeFile)).toFixed(1)} ms`);
for (const range of ['1h', '24h', '30d'] as SeriesRange[]) {
  const now = T0 + HOURS * 3_600_000;
  console.log(
    `points of ${range.padEnd(3)} (one path):  ${median(() => seriesPoints(store.series.get('isp1'), range, now)).toFixed(2)} ms`,
  );
}
