// The series file: what was saved comes back after a restart; a damaged file is logged and the
// series start afresh; a full disk keeps the previous file and is logged once.
import { readdir, readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { seriesPoints } from '../../../src/core/series.js';
import type { NetgwmEvent } from '../../../src/log/events.js';
import type { Logger } from '../../../src/log/logger.js';
import { PATH_BYTES } from '../../../src/state/series-format.js';
import { openSeriesStore, SERIES_FILE } from '../../../src/state/series-store.js';
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
    expect(await readdir(join(dir, 'series'))).toEqual(['series.bin']);
  });

  it('a full disk keeps the previous file (a small tmpfs in a mount namespace of its own)', async () => {
    const dir = await tempDir('series');
    const script = 'mount -t tmpfs -o size=1m netgwm-test "$1" && node --import tsx "$2" "$1"; ls -A "$1/series"';
    const result = await execa('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, 'sh', dir, FULL_DISK], {
      reject: false,
      timeout: 60_000,
    });
    expect(result.stderr).toBe('');
    const [report, listing] = result.stdout.split('\n', 2);
    // The second round is lost with the write that failed; the first is still in the file.
    expect(JSON.parse(report!)).toEqual({ events: ['series-save-failed'], sent: [1, 0] });
    expect(listing).toBe('series.bin');
  });
});
