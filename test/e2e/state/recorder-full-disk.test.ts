// The recorder on a file system that fills up (a tmpfs of 256 KiB the test mounts in its own
// temporary directory): a write that stops half way is never read as data, the failure is logged
// once, and what waited in memory is written when there is room again.
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProbeEvent } from '../../../src/core/probe-events.js';
import type { NetgwmEvent } from '../../../src/log/events.js';
import { openRecorder } from '../../../src/state/recorder.js';
import { readRecording, recordingFiles } from '../../../src/state/recording.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'netgwm-full-disk-'));
  await execa('mount', ['-t', 'tmpfs', '-o', 'size=256k,mode=0700', 'netgwm-test', dir]);
});
afterAll(async () => {
  await execa('umount', [dir], { reject: false });
  await rm(dir, { recursive: true, force: true });
});

const T0 = Date.UTC(2026, 10, 30, 12);

function rounds(count: number): ProbeEvent[] {
  return Array.from({ length: count }, (_, i): ProbeEvent => {
    const at = T0 + i * 75;
    const echoes = ['192.0.2.53', '203.0.113.53'].map((site, s) => ({
      site,
      answered: true,
      rttMs: (100 + ((i * 53 + s * 31) % 400)) / 10,
    }));
    return { kind: 'round', gateway: i % 2 ? 'isp2' : 'isp1', at, settledAt: at + 45, echoes };
  });
}

describe('recorder on a full disk', () => {
  it('keeps only whole blocks in the file, logs once, and writes what waited when there is room', async () => {
    const filler = join(dir, 'filler');
    // Leaves about 20 KiB: a block or two of the recording, then ENOSPC, part way through a write.
    await writeFile(filler, Buffer.alloc(236 << 10));
    const file = join(dir, 'probes.rec');
    const logged: NetgwmEvent[] = [];
    const recorder = openRecorder({
      file,
      maxBytes: 1 << 20,
      log: { event: (e) => logged.push(e), reopen() {}, setLevel() {} },
      flushEveryMs: 0,
    });
    const events = rounds(16_000);
    for (let i = 0; i < events.length; i += 2000) {
      for (const event of events.slice(i, i + 2000)) recorder.record(event);
      await recorder.flush();
    }
    expect(logged).toEqual([expect.objectContaining({ kind: 'record-failed', file, error: expect.stringMatching(/ENOSPC/) })]);
    // What is in the file reads back as recorded: a prefix, the write the disk cut off skipped.
    const cut: string[] = [];
    const partial = await readRecording([file], { onDamaged: (message) => cut.push(message) });
    expect(cut).toEqual([expect.stringMatching(/^\S+probes\.rec: offset \d+: a block of \d+ bytes cut short at \d+; skipped/)]);
    expect(partial.length).toBeGreaterThan(0);
    expect(partial).toEqual(events.slice(0, partial.length));

    await rm(filler);
    await recorder.close();
    expect(logged.slice(1)).toEqual([{ kind: 'record-resumed', file, dropped: 0 }]);
    const damaged: string[] = [];
    expect(await readRecording(await recordingFiles(file), { onDamaged: (message) => damaged.push(message) })).toEqual(events);
    expect(damaged).toEqual([]);
    expect((await stat(file)).size).toBeLessThan(events.length * 8);
  });
});
