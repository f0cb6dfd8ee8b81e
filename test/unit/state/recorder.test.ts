// The probe recording: what the recorder writes reads back as it was recorded; a write cut short is
// skipped, never misread; rotation keeps both files within max_size; a file that cannot be written
// is logged once and never throws.
import { appendFile, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Echo } from '../../../src/core/health.js';
import type { ProbeEvent } from '../../../src/core/probe-events.js';
import type { NetgwmEvent } from '../../../src/log/events.js';
import type { Logger } from '../../../src/log/logger.js';
import { crc32, FILE_HEADER } from '../../../src/state/record-format.js';
import { openRecorder } from '../../../src/state/recorder.js';
import { readRecording, recordingFiles, RecordingError } from '../../../src/state/recording.js';
import { tempDir } from '../../support/temp-dir.js';

function memoryLog(): Logger & { events: NetgwmEvent[] } {
  const events: NetgwmEvent[] = [];
  return { events, event: (event) => events.push(event), reopen() {}, setLevel() {} };
}

const T0 = Date.UTC(2026, 10, 30, 12);
const SITES = ['192.0.2.53', 'dns.example.org'];

/** Rounds of two gateways every 150 ms from T0, each echo answered with an RTT (0.1 ms precision) unless `lost` says not. */
function rounds(count: number, lost: (i: number) => boolean = () => false): ProbeEvent[] {
  return Array.from({ length: count }, (_, i): ProbeEvent => {
    const at = T0 + Math.floor(i / 2) * 150 + (i % 2) * 40;
    const echoes: Echo[] = SITES.map((site, s) =>
      lost(i) ? { site, answered: false } : { site, answered: true, rttMs: Math.round(100 + s * 80 + ((i * 37) % 150)) / 10 },
    );
    return { kind: 'round', gateway: i % 2 ? 'lte' : 'isp1', at, settledAt: at + (lost(i) ? 500 : 30), echoes };
  });
}

/** A recording path no write can reach (a regular file where its directory should be: ENOTDIR, even as root) until `unblock()`. */
async function unwritable(): Promise<{ file: string; unblock: () => Promise<void> }> {
  const dir = join(await tempDir('rec'), 'state');
  await writeFile(dir, 'not a directory');
  return {
    file: join(dir, 'probes.rec'),
    unblock: async () => {
      await rm(dir);
      await mkdir(dir);
    },
  };
}

async function record(file: string, events: ProbeEvent[], maxBytes = 1 << 20) {
  const log = memoryLog();
  const recorder = openRecorder({ file, maxBytes, log, flushEveryMs: 0 });
  for (const event of events) recorder.record(event);
  await recorder.close();
  return log;
}

describe('probe recording', () => {
  it('records check sites with a method by their key, as any site (issue 15)', async () => {
    const file = join(await tempDir('rec'), 'probes.rec');
    const keys = ['tcp:[2001:db8::80]:443', 'https://check.example.net/a?b=c', 'dns:_dmarc.example.org@198.51.100.53/TXT'];
    const events: ProbeEvent[] = [
      {
        kind: 'round',
        gateway: 'isp1',
        at: T0,
        settledAt: T0 + 400,
        echoes: [
          { site: SITES[0]!, answered: true, rttMs: 1.5 },
          { site: keys[0]!, answered: true, rttMs: 380.2 },
        ],
      },
      { kind: 'round', gateway: 'isp1/6', at: T0 + 2000, settledAt: T0 + 2000, echoes: [{ site: keys[1]!, answered: false }] },
      { kind: 'round', gateway: 'lte', at: T0 + 2100, settledAt: T0 + 2100, echoes: [{ site: keys[2]!, answered: true, rttMs: 1999.9 }] },
    ];
    await record(file, events);
    expect(await readRecording([file])).toEqual(events);
  });

  it('reads back every kind of event as recorded', async () => {
    const file = join(await tempDir('rec'), 'probes.rec');
    const events: ProbeEvent[] = [
      ...rounds(6),
      { kind: 'link', gateway: 'isp1', dev: 'eth1', up: false, at: T0 + 1000 },
      // A round sent before the link event, settled (lost) after it; then one with fewer sites,
      // one where nothing was probed, an echo answered without an RTT, a slow one.
      { kind: 'round', gateway: 'isp1', at: T0 + 700, settledAt: T0 + 1200, echoes: [{ site: SITES[0]!, answered: false }] },
      { kind: 'round', gateway: 'lte', at: T0 + 1300, settledAt: T0 + 1300, echoes: [] },
      { kind: 'round', gateway: 'lte', at: T0 + 1400, settledAt: T0 + 1420, echoes: [{ site: SITES[1]!, answered: true }] },
      {
        kind: 'round',
        gateway: 'isp1',
        at: T0 + 1500,
        settledAt: T0 + 29_000,
        echoes: [{ site: SITES[1]!, answered: true, rttMs: 27_450.3 }],
      },
      { kind: 'link', gateway: 'isp1', dev: 'eth1', up: true, at: T0 + 30_000 },
      // The wall clock stepped back a minute.
      ...rounds(4).map((event) => ({
        ...event,
        at: (event as { at: number }).at - 60_000,
        settledAt: (event as { settledAt: number }).settledAt - 60_000,
      })),
      { kind: 'link', gateway: 'gw-ü', dev: 'ppp0', up: true, at: T0 },
    ];
    const log = await record(file, events);
    expect(log.events).toEqual([]);
    expect(await readRecording([file])).toEqual(events);
  });

  it('takes more than 64 gateways (reloads that renamed them) in blocks of its own', async () => {
    const file = join(await tempDir('rec'), 'probes.rec');
    const events = Array.from(
      { length: 150 },
      (_, i): ProbeEvent => ({ kind: 'link', gateway: `gw${i}`, dev: `eth${i % 3}`, up: i % 2 === 0, at: T0 + i }),
    );
    await record(file, events);
    expect(await readRecording([file])).toEqual(events);
  });

  it('writes nothing until flushed, then once per flush (batched, not per event)', async () => {
    const file = join(await tempDir('rec'), 'probes.rec');
    const recorder = openRecorder({ file, maxBytes: 1 << 20, log: memoryLog(), flushEveryMs: 0 });
    for (const event of rounds(100)) recorder.record(event);
    await expect(stat(file)).rejects.toThrow(/ENOENT/);
    await recorder.flush();
    const size = (await stat(file)).size;
    // A round of 2 answered echoes takes a few bytes, names once per block.
    expect(size).toBeLessThan(FILE_HEADER.length + 100 + 100 * 8);
    await recorder.flush();
    expect((await stat(file)).size).toBe(size);
    await recorder.close();
  });

  it('skips a block cut short (a crash mid-write) and says where; the next recorder cuts it off and appends', async () => {
    const file = join(await tempDir('rec'), 'probes.rec');
    const first = rounds(10);
    await record(file, first);
    const whole = (await stat(file)).size;
    // Half a block, as a crash in the middle of an append leaves it; then zeros, as a power loss may.
    const second = join(await tempDir('rec'), 'second.rec');
    await record(
      second,
      rounds(10).map((event) => ({ ...event, gateway: 'isp2' })),
    );
    const block = (await readFile(second)).subarray(FILE_HEADER.length);
    await appendFile(file, block.subarray(0, block.length - 3));
    const damaged: string[] = [];
    expect(await readRecording([file], { onDamaged: (message) => damaged.push(message) })).toEqual(first);
    expect(damaged).toEqual([
      `${file}: offset ${whole}: a block of ${block.length - 9} bytes cut short at ${block.length - 12}; skipped the last ${block.length - 3} bytes (a write cut short)`,
    ]);
    await appendFile(file, Buffer.alloc(5));
    const more = rounds(4).map((event) => ({ ...event, gateway: 'isp3' }));
    await record(file, more);
    damaged.length = 0;
    expect(await readRecording([file], { onDamaged: (message) => damaged.push(message) })).toEqual([...first, ...more]);
    expect(damaged).toEqual([]);
  });

  it('skips a block whose checksum does not match at the end of the file', async () => {
    const file = join(await tempDir('rec'), 'probes.rec');
    await record(file, rounds(4));
    const bytes = await readFile(file);
    bytes[bytes.length - 1] = bytes.at(-1)! ^ 0xff;
    await writeFile(file, bytes);
    const damaged: string[] = [];
    expect(await readRecording([file], { onDamaged: (message) => damaged.push(message) })).toEqual([]);
    expect(damaged).toEqual([
      `${file}: offset 8: a block whose checksum does not match; skipped the last ${bytes.length - 8} bytes (a write cut short)`,
    ]);
  });

  it('moves FILE to FILE.1 so that both stay within max_size, and reads them in order', async () => {
    const file = join(await tempDir('rec'), 'probes.rec');
    const maxBytes = 64 << 10;
    const log = memoryLog();
    const recorder = openRecorder({ file, maxBytes, log, flushEveryMs: 0 });
    const events = rounds(40_000, (i) => i % 7 === 0);
    for (const [i, event] of events.entries()) {
      recorder.record(event);
      if (i % 500 === 499) {
        await recorder.flush();
        const sizes = await Promise.all(
          [file, `${file}.1`].map((path) =>
            stat(path).then(
              (found) => found.size,
              () => 0,
            ),
          ),
        );
        expect(sizes[0]! + sizes[1]!).toBeLessThanOrEqual(maxBytes);
      }
    }
    await recorder.close();
    expect(log.events).toEqual([]);
    const files = await recordingFiles(file);
    expect(files).toEqual([`${file}.1`, file]);
    const read = await readRecording(files);
    // The newest events, without a gap, and at least a quarter of max_size's worth of them.
    expect(read).toEqual(events.slice(events.length - read.length));
    expect(read.length).toBeGreaterThan(5000);
  });

  it('a file it cannot write is logged once, never throws, and is logged again when it works; what waited is written', async () => {
    const { file, unblock } = await unwritable();
    const log = memoryLog();
    const recorder = openRecorder({ file, maxBytes: 1 << 20, log, flushEveryMs: 0 });
    const events = rounds(30);
    for (const event of events.slice(0, 10)) recorder.record(event);
    await expect(recorder.flush()).resolves.toBeUndefined();
    for (const event of events.slice(10, 20)) recorder.record(event);
    await recorder.flush();
    expect(log.events).toEqual([expect.objectContaining({ kind: 'record-failed', file, error: expect.stringMatching(/EEXIST|ENOTDIR/) })]);
    await unblock();
    for (const event of events.slice(20)) recorder.record(event);
    await recorder.close();
    expect(log.events.slice(1)).toEqual([{ kind: 'record-resumed', file, dropped: 0 }]);
    expect(await readRecording([file])).toEqual(events);
  });

  it('keeps what waits for a failing file within bounds: the rest is dropped and counted', async () => {
    const { file, unblock } = await unwritable();
    const log = memoryLog();
    // max_size 64K: at most 32K wait in memory.
    const recorder = openRecorder({ file, maxBytes: 64 << 10, log, flushEveryMs: 0 });
    const events = rounds(20_000);
    for (const event of events) recorder.record(event);
    await recorder.flush();
    await unblock();
    await recorder.close();
    const resumed = log.events.find((event) => event.kind === 'record-resumed') as { dropped: number };
    const read = await readRecording(await recordingFiles(file));
    expect(read).toEqual(events.slice(0, read.length));
    expect(resumed.dropped).toBe(events.length - read.length);
    expect(resumed.dropped).toBeGreaterThan(0);
  });

  it('moves a recording written with a larger max_size to FILE.1 before writing', async () => {
    const file = join(await tempDir('rec'), 'probes.rec');
    const [older, newer] = [rounds(10_000), rounds(10).map((event) => ({ ...event, gateway: 'isp9' }))];
    await record(file, older, 1 << 20);
    expect((await stat(file)).size).toBeGreaterThan(32 << 10);
    await record(file, newer, 64 << 10);
    expect(await readRecording(await recordingFiles(file))).toEqual([...older, ...newer]);
  });

  it('never writes into (nor moves) a file that is not a recording, however large', async () => {
    const file = join(await tempDir('rec'), 'probes.rec');
    await writeFile(file, `precious data\n${'x'.repeat(100_000)}`);
    const log = await record(file, rounds(3), 64 << 10);
    expect(await readFile(file, 'utf8')).toMatch(/^precious data\nxxx/);
    await expect(stat(`${file}.1`)).rejects.toThrow(/ENOENT/);
    expect(log.events).toEqual([
      expect.objectContaining({
        kind: 'record-failed',
        error: `${file} is not a netgwm probe recording, so it is left alone: move it away or set record.file to another path`,
      }),
    ]);
  });
});

describe('reading a recording', () => {
  /** A file of one block with a valid checksum around `payload`. */
  async function fileWithBlock(payload: number[]): Promise<string> {
    const file = join(await tempDir('rec'), 'probes.rec');
    const body = Uint8Array.from(payload);
    const header = Buffer.alloc(9);
    header[0] = 0xa5;
    header.writeUInt32LE(body.length, 1);
    header.writeUInt32LE(crc32(body), 5);
    await writeFile(file, Buffer.concat([FILE_HEADER, header, body]));
    return file;
  }
  const error = (promise: Promise<unknown>) =>
    promise.then(
      () => undefined,
      (e: unknown) => {
        expect(e).toBeInstanceOf(RecordingError);
        return (e as Error).message;
      },
    );

  it('says which file, where and what is wrong', async () => {
    const missing = join(await tempDir('rec'), 'missing.rec');
    expect(await error(readRecording([missing]))).toMatch(new RegExp(`^${missing}: cannot read the recording: ENOENT`));
    // Base time 1, then record types the format does not have, or names it never defined.
    let file = await fileWithBlock([1, 0xc7]);
    expect(await error(readRecording([file]))).toBe(`${file}: offset 18: unknown record type 0xc7`);
    file = await fileWithBlock([1, 0xc0, 1, 0x61, 0xc1, 1, 0x62, 0x85, 0, 0, 1]);
    expect(await error(readRecording([file]))).toBe(`${file}: offset 24: gateway id 5 used before it is defined`);
    file = await fileWithBlock([1, 0xc0, 1, 0x61, 0x00, 0, 0]);
    expect(await error(readRecording([file]))).toBe(`${file}: offset 21: a round of gateway a that repeats a site list it never had`);
    file = await fileWithBlock([1, 0xc0, 1, 0x61, 0x40, 1, 0]);
    expect(await error(readRecording([file]))).toBe(`${file}: offset 21: a site name id used before it is defined`);
    file = await fileWithBlock([1, 0xc0, 5, 0x61]);
    expect(await error(readRecording([file]))).toBe(`${file}: offset 18: a name runs past the end of its block`);
    file = await fileWithBlock([1, 0xc1, 1, 0x61, 0xc0, 1, 0x61, 0x40, 1, 0, 0, 0, 0xff]);
    expect(await error(readRecording([file]))).toBe(`${file}: offset 24: a record runs past the end of its block`);
  });

  it('refuses a file that is not a recording', async () => {
    const file = join(await tempDir('rec'), 'netgwm.yml');
    await writeFile(file, 'gateways: {}\n');
    expect(await error(readRecording([file]))).toBe(`${file}: offset 0: not a netgwm probe recording (it does not start with "NGWREC1")`);
  });
});
