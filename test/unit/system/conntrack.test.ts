import { describe, expect, it } from 'vitest';
import { countMarks, deleteFlows, flushFilter } from '../../../src/system/conntrack.js';
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

describe('countMarks', () => {
  it('counts entries per mark under the mask, from /proc/net/nf_conntrack or conntrack -L lines', () => {
    const proc = [
      'ipv4     2 udp      17 29 src=203.0.113.2 dst=198.51.100.200 sport=40000 dport=20000 [UNREPLIED] src=198.51.100.200 dst=203.0.113.2 sport=20000 dport=40000 mark=1 zone=0 use=2',
      'ipv4     2 udp      17 29 src=203.0.113.2 dst=198.51.100.200 sport=40000 dport=20001 [UNREPLIED] src=198.51.100.200 dst=203.0.113.2 sport=20001 dport=40000 mark=257 zone=0 use=2',
      'ipv4     2 tcp      6 431999 ESTABLISHED src=203.0.113.2 dst=198.51.100.1 sport=40001 dport=5001 src=198.51.100.1 dst=203.0.113.2 sport=5001 dport=40001 [ASSURED] mark=2 zone=0 use=2',
    ].join('\n');
    expect([...countMarks(proc, 0xff)]).toEqual([
      [1, 2],
      [2, 1],
    ]);
    const listed =
      'udp      17 29 src=203.0.113.2 dst=198.51.100.200 sport=40000 dport=20000 [UNREPLIED] src=198.51.100.200 dst=203.0.113.2 sport=20000 dport=40000 mark=0 use=1\n';
    expect([...countMarks(listed, 0xff)]).toEqual([[0, 1]]);
    expect(countMarks('', 0xff).size).toBe(0);
  });
});
