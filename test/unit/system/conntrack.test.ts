import { describe, expect, it } from 'vitest';
import { deleteFlows, flushFilter } from '../../../src/system/conntrack.js';
import { fakeExec } from './fake-exec.js';

const deleted = (n: number) => `conntrack v1.4.7 (conntrack-tools): ${n} flow entries have been deleted.\n`;

describe('flushFilter', () => {
  it.each([
    ['all', undefined, []],
    ['udp', undefined, ['-p', 'udp']],
    ['old', 0x2, ['--mark', '0x2/0xff']],
  ] as const)('flush: %s', (flush, oldMark, expected) => {
    expect(flushFilter(flush, oldMark, 0xff)).toEqual(expected);
  });
});

describe('deleteFlows', () => {
  it('runs conntrack -D with the filter and returns the count conntrack printed on stderr', async () => {
    const exec = fakeExec(() => ({ stderr: deleted(12) }));
    expect(await deleteFlows(exec, ['-p', 'udp'])).toBe(12);
    expect(exec.calls.map((call) => call.argv)).toEqual([['conntrack', '-D', '-p', 'udp']]);
  });

  it('takes exit code 1 with nothing deleted as "nothing matched", not as an error', async () => {
    expect(
      await deleteFlows(
        fakeExec(() => ({ exitCode: 1, stderr: deleted(0) })),
        [],
      ),
    ).toBe(0);
  });

  it("throws a CommandError with conntrack's message otherwise", async () => {
    const failing = fakeExec(() => ({
      exitCode: 1,
      stderr: 'conntrack v1.4.7 (conntrack-tools): Operation failed: Operation not permitted\n',
    }));
    await expect(deleteFlows(failing, [])).rejects.toThrow(
      '`conntrack -D` failed with exit code 1: conntrack v1.4.7 (conntrack-tools): Operation failed: Operation not permitted',
    );
    const missing = fakeExec(() => ({ exitCode: -1 }));
    await expect(deleteFlows(missing, [])).rejects.toThrow(/`conntrack -D` failed: no output \(is conntrack installed and are we root\?\)/);
  });
});
