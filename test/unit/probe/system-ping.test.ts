// ping(8)'s argv and the parsing of its summary, with outputs captured from iputils 20221126.
import { describe, expect, it } from 'vitest';
import { parsePing, pingArgs } from '../../../src/probe/system-ping.js';

const summary = (counts: string, rtt = '') =>
  `PING 198.51.100.1 (198.51.100.1) 56(84) bytes of data.\n\n--- 198.51.100.1 ping statistics ---\n${counts}\n${rtt}`;

describe('pingArgs', () => {
  it('sends COUNT echoes 10 ms apart, waits timeout seconds, marks in decimal', () => {
    expect(pingArgs('198.51.100.1', { count: 2, timeoutMs: 500, mark: 0x4e470000 })).toEqual([
      '-n',
      '-q',
      '-c',
      '2',
      '-i',
      '0.01',
      '-W',
      '0.5',
      '-m',
      '1313275904',
      '198.51.100.1',
    ]);
    expect(pingArgs('2001:db8::1', { count: 3, timeoutMs: 1000 })).toEqual(['-n', '-q', '-c', '3', '-i', '0.01', '-W', '1', '2001:db8::1']);
  });
});

describe('parsePing', () => {
  it('reads replies and the average round trip', () => {
    const stdout = summary(
      '2 packets transmitted, 1 received, 50% packet loss, time 10ms',
      'rtt min/avg/max/mdev = 0.031/0.0345/0.038/0.003 ms',
    );
    expect(parsePing('198.51.100.1', { stdout, stderr: '', exitCode: 0 })).toEqual({
      address: '198.51.100.1',
      answered: true,
      replies: 1,
      sent: 2,
      rttMs: 0.03,
    });
  });

  it('does not count duplicates as replies', () => {
    const stdout = summary(
      '2 packets transmitted, 2 received, +2 duplicates, 0% packet loss, time 1ms',
      'rtt min/avg/max/mdev = 1.000/2.000/3.000/0.500 ms',
    );
    expect(parsePing('198.51.100.1', { stdout, stderr: '', exitCode: 0 })).toMatchObject({ replies: 2, rttMs: 2 });
  });

  it('says why nothing answered', () => {
    const errors = summary('2 packets transmitted, 0 received, +2 errors, 100% packet loss, time 2ms');
    expect(parsePing('198.51.100.1', { stdout: errors, stderr: '', exitCode: 1 })).toEqual({
      address: '198.51.100.1',
      answered: false,
      replies: 0,
      sent: 2,
      error: '2 ICMP error(s) came back instead of replies',
    });
    expect(parsePing('198.51.100.1', { stdout: '', stderr: 'ping: connect: Network is unreachable\n', exitCode: 2 })).toEqual({
      address: '198.51.100.1',
      answered: false,
      replies: 0,
      sent: 0,
      error: 'connect: Network is unreachable',
    });
    expect(parsePing('198.51.100.1', { stdout: '', stderr: '', exitCode: -1 })).toMatchObject({
      answered: false,
      error: 'ping was killed: it ran past its own deadline',
    });
  });
});
