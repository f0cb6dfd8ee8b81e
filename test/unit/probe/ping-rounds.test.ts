// Lines of `ping -n -O -i 0.2` (iputils 20221126, captured in a namespace) into echoes.
import { describe, expect, it } from 'vitest';
import { continuousPingArgs, parsePingLine, SequenceTracker, type PingLine } from '../../../src/probe/ping-rounds.js';

describe('continuousPingArgs', () => {
  it('runs numeric, reports missing replies, marks in decimal, interval in seconds', () => {
    expect(continuousPingArgs('198.51.100.1', 0x4e470001, 200)).toEqual(['-n', '-O', '-i', '0.2', '-m', '1313275905', '198.51.100.1']);
  });
});

describe('parsePingLine', () => {
  it.each([
    ['64 bytes from 198.51.100.1: icmp_seq=3 ttl=64 time=0.058 ms', { seq: 3, kind: 'reply', rttMs: 0.058 }],
    ['64 bytes from 2001:db8:a::1: icmp_seq=12 ttl=64 time=1028 ms', { seq: 12, kind: 'reply', rttMs: 1028 }],
    ['no answer yet for icmp_seq=4', { seq: 4, kind: 'no-answer-yet' }],
    ['From 192.0.2.2 icmp_seq=7 Destination Host Unreachable', { seq: 7, kind: 'error', text: 'Destination Host Unreachable' }],
    ['From 198.18.1.1 icmp_seq=1 Destination Net Unreachable', { seq: 1, kind: 'error', text: 'Destination Net Unreachable' }],
  ])('%s', (line, parsed) => {
    expect(parsePingLine(line)).toEqual(parsed);
  });

  it.each([
    'PING 198.51.100.1 (198.51.100.1) 56(84) bytes of data.',
    '64 bytes from 198.51.100.1: icmp_seq=3 ttl=64 time=0.061 ms (DUP!)',
    '',
    '--- 198.51.100.1 ping statistics ---',
  ])('ignores %j', (line) => {
    expect(parsePingLine(line)).toBeUndefined();
  });
});

const reply = (seq: number, rttMs: number): PingLine => ({ seq, kind: 'reply', rttMs });
const noAnswer = (seq: number): PingLine => ({ seq, kind: 'no-answer-yet' });

/** Feeds lines to a tracker (interval 200, timeout 400); one array of outcomes per line. */
function feed(lines: PingLine[]): Array<Array<boolean | number>> {
  const tracker = new SequenceTracker(200, 400);
  return lines.map((line) => tracker.feed(line).map((echo) => (echo.answered ? (echo.rttMs as number) : false)));
}

describe('SequenceTracker', () => {
  it('settles each reply at once', () => {
    expect(feed([reply(1, 0.05), reply(2, 0.06)])).toEqual([[0.05], [0.06]]);
  });

  it('counts an echo lost once a later line proves timeout has passed without its reply', () => {
    // 1 unanswered: "no answer yet for 1" at +200 ms, "for 2" at +400 ms for echo 1.
    expect(feed([noAnswer(1), noAnswer(2), noAnswer(3)])).toEqual([[], [false], [false]]);
    // Replies to later echoes prove time passing too: 2 at +200 + rtt, 3 at +400 + rtt.
    expect(feed([reply(2, 1), reply(3, 1)])).toEqual([[], [false, 1, 1]]);
  });

  it('takes a reply later than "no answer yet" while within timeout, and counts a slower one lost', () => {
    expect(feed([noAnswer(1), reply(1, 300), reply(2, 0.1)])).toEqual([[], [300], [0.1]]);
    expect(feed([noAnswer(1), noAnswer(2), reply(1, 450)])).toEqual([[], [false], []]);
    // What came back in one burst after an outage (rtt 1028, 824… ms): all lost, nothing twice.
    // Echo 3 is only 200 ms old when 4's reply comes; 5's proves it lost.
    const burst = [noAnswer(1), noAnswer(2), noAnswer(3), reply(1, 1028), reply(4, 0.03), reply(2, 824), reply(5, 0.04)];
    expect(feed(burst)).toEqual([[], [false], [false], [], [], [], [false, 0.03, 0.04]]);
  });

  it('counts an ICMP error as not answered at once', () => {
    expect(feed([{ seq: 1, kind: 'error', text: 'Destination Host Unreachable' }, reply(2, 1)])).toEqual([[false], [1]]);
  });

  it('skips ahead instead of reporting thousands of losses when a sequence number jumps', () => {
    const tracker = new SequenceTracker(200, 400);
    tracker.feed(reply(1, 1));
    expect(tracker.feed(reply(5000, 2))).toEqual([{ answered: true, rttMs: 2, ageMs: 2 }]);
  });

  it('follows icmp_seq across its 16-bit wrap', () => {
    const tracker = new SequenceTracker(200, 400);
    for (let seq = 1; seq <= 65535; seq++) tracker.feed(reply(seq, 1));
    expect(tracker.feed(reply(0, 2))).toEqual([{ answered: true, rttMs: 2, ageMs: 2 }]);
    expect(tracker.feed(reply(1, 3))).toEqual([{ answered: true, rttMs: 3, ageMs: 3 }]);
  });
});
