// The daemon's stdout is a pipe (journald, a `| logger`): when its reader goes away, writes fail
// with EPIPE. That must cost the lines on stdout, never the daemon.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Harness, waitFor } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await Harness.create();
});
afterAll(async () => {
  await h?.destroy();
});

const cyclesDone = async () => (await h.logLines()).filter((line) => line.includes('DEBUG cycle done')).length;

describe('daemon output', () => {
  it('goes on cycling, into its log file, after the reader of its stdout and stderr closed them', async () => {
    const daemon = h.daemon(['--interval', '1']);
    try {
      expect(await waitFor(async () => (await cyclesDone()) >= 1)).toBe(true);
      daemon.stdout?.destroy();
      daemon.stderr?.destroy();
      const before = await cyclesDone();
      expect(await waitFor(async () => (await cyclesDone()) >= before + 3, 60_000)).toBe(true);
      expect(daemon.exitCode).toBeNull(); // still running
    } finally {
      daemon.kill('SIGTERM');
    }
    expect((await daemon).exitCode).toBe(0);
  }, 120_000);
});
