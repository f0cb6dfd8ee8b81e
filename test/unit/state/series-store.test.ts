// The series files: what was saved (snapshot and journal) comes back after a restart or a crash; a
// minute's save appends only the buckets closed since; a damaged file is logged and what can be
// used is used; a full disk keeps what was saved before and is logged once.
import { appendFile, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { seriesPoints } from '../../../src/core/series.js';
import type { NetgwmEvent } from '../../../src/log/events.js';
import type { Logger } from '../../../src/log/logger.js';
import { PATH_BYTES } from '../../../src/state/series-format.js';
import { JOURNAL_HEADER_BYTES } from '../../../src/state/series-journal.js';
import { JOURNAL_FILE, openSeriesStore, SERIES_FILE, type SeriesStore } from '../../../src/state/series-store.js';
import { oneEchoRound } from '../../support/probe-rounds.js';
import { tempDir } from '../../support/temp-dir.js';

const FULL_DISK = fileURLToPath(new URL('./fixtures/series-full-disk.ts', import.meta.url));
const T0 = Date.UTC(2026, 11, 1);

function memoryLog(): Logger & { events: NetgwmEvent[] } {
  const events: NetgwmEvent[] = [];
  return { events, event: (event) => events.push(event), reopen() {}, setLevel() {} };
}

const round = oneEchoRound;

async function store(stateDir: string, paths = ['isp1', 'isp1/6', 'lte']) {
  const log = memoryLog();
  return { log, store: await openSeriesStore({ stateDir, paths, log, saveEveryMs: 0 }) };
}

/** One round every 10 s from T0 + fromS to T0 + toS (excluded) on each path; RTT 10 to 16 ms. */
function feed(series: SeriesStore, keys: string[], fromS: number, toS: number): void {
  for (let s = fromS; s < toS; s += 10) for (const key of keys) series.record(round(key, T0 + s * 1000, 10 + ((s / 10) % 7)));
}

/** Every range of every path `keys` names, as the page would see it at T0 + nowS. */
const pointsOf = (series: SeriesStore, keys: string[], nowS: number) =>
  keys.map((key) => (['1h', '24h', '30d'] as const).map((range) => seriesPoints(series.series.get(key), range, T0 + nowS * 1000)));

/** A store that wrote its snapshot after 10 minutes of rounds on `keys`, then a journal record 10 minutes later. */
async function savedTwice(dir: string, keys: string[], paths?: string[]) {
  const opened = await store(dir, paths);
  feed(opened.store, keys, 0, 600);
  await opened.store.save();
  feed(opened.store, keys, 600, 1200);
  await opened.store.save();
  return opened;
}

const journalBytes = async (dir: string) => (await stat(join(dir, JOURNAL_FILE))).size;

describe('series store', () => {
  it('a restart keeps the series, to the bucket; paths no longer configured are dropped', async () => {
    const dir = await tempDir('series');
    const first = await store(dir);
    for (let i = 0; i < 400; i++) {
      first.store.record(round('isp1', T0 + i * 1000, 10 + (i % 7)));
      first.store.record(round('isp1/6', T0 + i * 1000, i % 3 === 0 ? undefined : 20));
    }
    first.store.record(round('lte', T0, 30));
    await first.store.close();
    expect(first.log.events).toEqual([]);
    expect((await readFile(join(dir, SERIES_FILE))).length).toBeLessThan(3 * PATH_BYTES + 1024);

    const second = await store(dir, ['isp1', 'isp1/6']);
    expect(second.log.events).toEqual([]);
    expect([...second.store.series.keys()]).toEqual(['isp1', 'isp1/6']);
    for (const key of ['isp1', 'isp1/6']) {
      for (const range of ['1h', '24h', '30d'] as const) {
        expect(seriesPoints(second.store.series.get(key), range, T0 + 400_000)).toEqual(
          seriesPoints(first.store.series.get(key), range, T0 + 400_000),
        );
      }
    }
    expect(seriesPoints(second.store.series.get('isp1/6'), '1h', T0 + 10_000).lossPct.slice(-2)).toEqual([40, 30]);
  });

  it.each([
    ['truncated', async (file: string) => truncate(file, 1000), /bytes of buckets, expected/],
    ['garbage', async (file: string) => writeFile(file, 'hello\n'), /header: not JSON/],
    ['no header line', async (file: string) => writeFile(file, Buffer.alloc(70_000)), /no header line/],
    [
      'a bucket that does not add up',
      async (file: string) => {
        const bytes = await readFile(file);
        bytes.writeUInt32LE(7, bytes.indexOf(10) + 1 + 8640 * 4); // answered 7 of nothing sent
        await writeFile(file, bytes);
      },
      /isp1: bucket 0 of 10 s does not add up/,
    ],
  ])('a damaged file (%s) is logged and the series start afresh', async (_name, spoil, problem) => {
    const dir = await tempDir('series');
    const first = await store(dir);
    first.store.record(round('isp1', T0, 10));
    await first.store.close();
    await spoil(join(dir, SERIES_FILE));
    const second = await store(dir);
    expect(second.store.series.size).toBe(0);
    expect(second.log.events).toEqual([
      { kind: 'series-unreadable', file: join(dir, SERIES_FILE), problem: expect.stringMatching(problem) },
    ]);
    // And it goes on: the next save writes a good file.
    second.store.record(round('isp1', T0, 10));
    await second.store.close();
    expect((await store(dir)).store.series.size).toBe(1);
  });

  it('a file it cannot write is logged once, and once when it works again; nothing throws', async () => {
    const dir = await tempDir('series');
    await writeFile(join(dir, 'series'), 'a file where the directory should be');
    const { log, store: series } = await store(dir);
    series.record(round('isp1', T0, 10));
    await series.save();
    await series.save();
    expect(log.events.map((event) => event.kind)).toEqual(['series-save-failed']);
    await import('node:fs/promises').then((fs) => fs.rm(join(dir, 'series')));
    await series.close();
    expect(log.events.map((event) => event.kind)).toEqual(['series-save-failed', 'series-saved-again']);
    expect((await readdir(join(dir, 'series'))).sort()).toEqual(['series.bin', 'series.journal']);
  });

  it('a full disk keeps what was saved before, and the next save after it saves the rest (a small tmpfs in a mount namespace of its own)', async () => {
    const dir = await tempDir('series');
    const script = 'mount -t tmpfs -o size=1m netgwm-test "$1" && node --import tsx "$2" "$1"; ls -A "$1/series"';
    const result = await execa('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, 'sh', dir, FULL_DISK], {
      reject: false,
      timeout: 60_000,
    });
    expect(result.stderr).toBe('');
    const [report, ...listing] = result.stdout.split('\n');
    // A crash while the disk is full finds the first round, saved before; the hour's rounds after
    // it, whose append failed, are saved when there is room again.
    expect(JSON.parse(report!)).toEqual({
      events: ['series-save-failed', 'series-saved-again'],
      sentBeforeTheDiskFilled: 1,
      sentAfterACrashMeanwhile: 1,
      sentOnceSaved: 361,
    });
    expect(listing).toEqual(['series.bin', 'series.journal']);
  });
  it("a minute's save appends only the buckets closed since the last one; the snapshot is left alone", async () => {
    const dir = await tempDir('series');
    const { log, store: series } = await store(dir);
    feed(series, ['isp1', 'isp1/6'], 0, 600);
    await series.save(); // the first: a snapshot and an empty journal
    const snapshot = await stat(join(dir, SERIES_FILE));
    expect(await journalBytes(dir)).toBe(JOURNAL_HEADER_BYTES);
    feed(series, ['isp1', 'isp1/6'], 600, 660);
    await series.save();
    // One record (9 bytes) with, per path, its name and 6 buckets of 10 s (21 bytes each): the
    // minute's rounds closed as many as they opened; no 5 min bucket closed meanwhile.
    const record = 9 + (1 + 'isp1'.length + 2 + 6 * 21) + (1 + 'isp1/6'.length + 2 + 6 * 21);
    expect(await journalBytes(dir)).toBe(JOURNAL_HEADER_BYTES + record);
    await series.save(); // nothing new: nothing written
    expect(await journalBytes(dir)).toBe(JOURNAL_HEADER_BYTES + record);
    feed(series, ['isp1', 'isp1/6'], 660, 720); // and a 5 min bucket closes too
    await series.save();
    expect(await journalBytes(dir)).toBe(JOURNAL_HEADER_BYTES + 2 * record + 2 * 21);
    const after = await stat(join(dir, SERIES_FILE));
    expect([after.ino, after.mtimeMs]).toEqual([snapshot.ino, snapshot.mtimeMs]);
    expect(log.events).toEqual([]);
  });

  it('the snapshot is written again once the journal has grown to half its size, with a fresh journal', async () => {
    const dir = await tempDir('series');
    const { store: series } = await store(dir, ['isp1']);
    await series.save();
    const snapshot = await stat(join(dir, SERIES_FILE));
    feed(series, ['isp1'], 0, 20 * 3600); // 20 h in one record: more than half of 276,480 bytes
    await series.save();
    expect(await journalBytes(dir)).toBeGreaterThan(snapshot.size / 2);
    await series.save();
    expect((await stat(join(dir, SERIES_FILE))).ino).not.toBe(snapshot.ino);
    expect(await journalBytes(dir)).toBe(JOURNAL_HEADER_BYTES);
    const reopened = await store(dir, ['isp1']);
    expect(pointsOf(reopened.store, ['isp1'], 20 * 3600)).toEqual(pointsOf(series, ['isp1'], 20 * 3600));
  });

  it('a crash after journal appends (no stop, no snapshot since) keeps every closed bucket', async () => {
    const dir = await tempDir('series');
    const first = await savedTwice(dir, ['isp1', 'lte']);
    feed(first.store, ['isp1', 'lte'], 1200, 1230); // lost with the crash: never saved
    const second = await store(dir);
    expect(second.log.events).toEqual([]);
    // Closed when saved: the buckets that ended 60 s before the newest round then (T0 + 1190 s),
    // the last of them at T0 + 1120 s; the 10 s points after it are lost.
    const before = pointsOf(first.store, ['isp1', 'lte'], 1200);
    for (const [path, [fine]] of pointsOf(second.store, ['isp1', 'lte'], 1200).entries()) {
      expect(fine!.sent.slice(-12)).toEqual([1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
      expect(fine!.rttMs.slice(0, -8)).toEqual(before[path]![0]!.rttMs.slice(0, -8));
    }
  });

  it('a torn last record (a crash during an append) is skipped quietly and cut off before the next', async () => {
    const dir = await tempDir('series');
    const first = await savedTwice(dir, ['isp1']);
    const whole = await readFile(join(dir, JOURNAL_FILE));
    feed(first.store, ['isp1'], 1200, 1260);
    await first.store.save();
    const torn = (await readFile(join(dir, JOURNAL_FILE))).subarray(0, whole.length + 40);
    await writeFile(join(dir, JOURNAL_FILE), torn);
    const second = await store(dir);
    expect(second.log.events).toEqual([]);
    expect(await journalBytes(dir)).toBe(whole.length + 40);
    feed(second.store, ['isp1'], 1200, 1320);
    await second.store.close();
    const third = await store(dir);
    expect(third.log.events).toEqual([]);
    expect(pointsOf(third.store, ['isp1'], 1320)).toEqual(pointsOf(second.store, ['isp1'], 1320));
  });

  it('a crash between the snapshot and its fresh journal: the older journal is not replayed (the snapshot holds it)', async () => {
    const dir = await tempDir('series');
    const first = await savedTwice(dir, ['isp1']);
    const older = await readFile(join(dir, JOURNAL_FILE));
    // A journal gone from under the store makes it write a snapshot (and a fresh journal)...
    await rm(join(dir, JOURNAL_FILE));
    feed(first.store, ['isp1'], 1200, 1800);
    await first.store.save();
    expect(await journalBytes(dir)).toBe(JOURNAL_HEADER_BYTES);
    // ...and the crash: the older journal still there.
    await writeFile(join(dir, JOURNAL_FILE), older);
    const second = await store(dir);
    expect(second.log.events).toEqual([]);
    expect(pointsOf(second.store, ['isp1'], 1800)).toEqual(pointsOf(first.store, ['isp1'], 1800));
    // It starts a journal of its own at the next save: a fresh snapshot.
    await second.store.save();
    expect(await journalBytes(dir)).toBe(JOURNAL_HEADER_BYTES);
  });

  it("the journal's paths no longer configured are dropped; new ones are taken", async () => {
    const dir = await tempDir('series');
    const first = await store(dir, ['isp1']);
    await first.store.save(); // the snapshot has isp1 only
    first.store.keep(['isp1', 'lte', 'isp2']);
    feed(first.store, ['isp1', 'lte', 'isp2'], 0, 600);
    await first.store.close();
    const second = await store(dir, ['isp1', 'lte']);
    expect(second.log.events).toEqual([]);
    expect([...second.store.series.keys()].sort()).toEqual(['isp1', 'lte']);
    expect(pointsOf(second.store, ['isp1', 'lte'], 600)).toEqual(pointsOf(first.store, ['isp1', 'lte'], 600));
  });

  it('a damaged journal is logged; the records before the damage are used and the next save writes a fresh snapshot', async () => {
    const dir = await tempDir('series');
    const first = await savedTwice(dir, ['isp1'], ['isp1']);
    const good = await journalBytes(dir);
    feed(first.store, ['isp1'], 1200, 1800);
    await first.store.save();
    await appendFile(join(dir, JOURNAL_FILE), 'garbage');
    const bytes = await readFile(join(dir, JOURNAL_FILE));
    bytes[good + 20]! ^= 0xff; // in the second record's payload
    await writeFile(join(dir, JOURNAL_FILE), bytes);
    const second = await store(dir, ['isp1']);
    expect(second.log.events).toEqual([
      { kind: 'series-unreadable', file: join(dir, JOURNAL_FILE), problem: `offset ${good}: a record whose checksum does not match` },
    ]);
    expect(seriesPoints(second.store.series.get('isp1'), '1h', T0 + 1800_000).sent.slice(-72, -66)).toEqual([1, 1, 1, 1, 0, 0]);
    await second.store.save();
    expect(await journalBytes(dir)).toBe(JOURNAL_HEADER_BYTES);
    expect((await store(dir, ['isp1'])).log.events).toEqual([]);
  });
});
