import { describe, expect, it } from 'vitest';
import {
  countConnectionsByMark,
  countMarks,
  deleteFlows,
  familyFilter,
  flushFilter,
  linesOfFamily,
} from '../../../src/system/conntrack.js';
import { fakeExec } from './fake-exec.js';

const deleted = (n: number) => `conntrack v1.4.7 (conntrack-tools): ${n} flow entries have been deleted.\n`;

describe('conntrack scoped to one address family', () => {
  it.each([
    ['all', undefined, 6, ['-f', 'ipv6']],
    ['udp', undefined, 6, ['-f', 'ipv6', '-p', 'udp']],
    ['old', 0x2, 6, ['-f', 'ipv6', '--mark', '0x2/0xff']],
    ['all', undefined, 4, ['-f', 'ipv4']],
    ['udp', undefined, undefined, ['-p', 'udp']],
  ] as const)('flush: %s, family %s', (flush, oldMark, family, expected) => {
    expect(flushFilter(flush, oldMark, 0xff, family)).toEqual(expected);
  });

  it('deleteFlows adds -f for its family unless the filter has one', async () => {
    const exec = fakeExec(() => ({ stderr: deleted(3) }));
    expect(await deleteFlows(exec, ['-p', 'udp'], 6)).toBe(3);
    expect(await deleteFlows(exec, flushFilter('udp', undefined, 0xff, 6), 6)).toBe(3);
    expect(await deleteFlows(exec, [])).toBe(3);
    expect(exec.calls.map((call) => call.argv.join(' '))).toEqual([
      'conntrack -D -f ipv6 -p udp',
      'conntrack -D -f ipv6 -p udp',
      'conntrack -D',
    ]);
    expect(familyFilter()).toEqual([]);
  });

  it('counts the marks of one family in /proc/net/nf_conntrack lines', () => {
    const proc = [
      'ipv4     2 udp      17 29 src=192.0.2.2 dst=198.51.100.1 sport=1 dport=2 [UNREPLIED] src=198.51.100.1 dst=192.0.2.2 sport=2 dport=1 mark=1 zone=0 use=2',
      'ipv6     10 udp      17 29 src=2001:db8:1::2 dst=2001:db8:ff::1 sport=1 dport=2 [UNREPLIED] src=2001:db8:ff::1 dst=2001:db8:1::2 sport=2 dport=1 mark=2 zone=0 use=2',
      'ipv6     10 icmpv6   58 29 src=2001:db8:1::2 dst=2001:db8:ff::1 type=128 code=0 id=7 src=2001:db8:ff::1 dst=2001:db8:1::2 type=129 code=0 id=7 mark=2 zone=0 use=2',
    ].join('\n');
    expect(countMarks(linesOfFamily(proc, 6), 0xff)).toEqual(new Map([[2, 2]]));
    expect(countMarks(linesOfFamily(proc, 4), 0xff)).toEqual(new Map([[1, 1]]));
    expect(countMarks(proc, 0xff)).toEqual(
      new Map([
        [1, 1],
        [2, 2],
      ]),
    );
  });

  it('countConnectionsByMark runs no command when /proc/net/nf_conntrack is there, else conntrack -L -f', async () => {
    const exec = fakeExec(() => ({ stdout: '' }));
    await countConnectionsByMark(exec, 0xff, 6);
    expect(exec.calls.every((call) => call.argv.join(' ') === 'conntrack -L -f ipv6')).toBe(true);
  });
});
