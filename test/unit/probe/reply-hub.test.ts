import { EventEmitter } from 'node:events';
import { describe, expect, it, vi } from 'vitest';
import type { NetPingSession } from '../../../src/probe/icmp.js';
import { identifierOf, joinReplyHub, leaveReplyHub } from '../../../src/probe/reply-hub.js';

/** An IPv4 packet: a 20-byte header (IHL 5), then `icmp`. */
const ipv4 = (icmp: number[]) => Buffer.from([0x45, ...new Array(19).fill(0), ...icmp]);
/** An ICMP echo (request 8 / reply 0) with identifier `id`, sequence `seq` (default 1). */
const echo4 = (type: number, id: number, seq = 1) => [type, 0, 0, 0, id >> 8, id & 0xff, seq >> 8, seq & 0xff];
const echo6 = echo4;
/** An IPv6 header (40 bytes) whose next header is `next`. */
const ipv6Header = (next: number) => [0x60, 0, 0, 0, 0, 8, next, 64, ...new Array(32).fill(0)];

describe('identifierOf (whose reply a received packet is)', () => {
  it.each([
    { case: 'IPv4 echo reply', family: 4 as const, packet: ipv4(echo4(0, 0x1234)), want: 0x1234 },
    { case: 'IPv4 echo request (pinging the host itself)', family: 4 as const, packet: ipv4(echo4(8, 7)), want: 7 },
    {
      case: 'IPv4 destination unreachable: the quoted echo request',
      family: 4 as const,
      packet: ipv4([3, 1, 0, 0, 0, 0, 0, 0, 0x45, ...new Array(19).fill(0), ...echo4(8, 0xbeef)]),
      want: 0xbeef,
    },
    {
      case: 'IPv4 time exceeded, quoting a header with options (IHL 6)',
      family: 4 as const,
      packet: ipv4([11, 0, 0, 0, 0, 0, 0, 0, 0x46, ...new Array(23).fill(0), ...echo4(8, 42)]),
      want: 42,
    },
    { case: 'IPv4 error cut short', family: 4 as const, packet: ipv4([3, 1, 0, 0, 0, 0, 0, 0, 0x45]), want: undefined },
    { case: 'IPv4 other type (router advertisement)', family: 4 as const, packet: ipv4([9, 0, 0, 0, 0, 1, 0, 0]), want: undefined },
    { case: 'too short for an IPv4 header', family: 4 as const, packet: Buffer.from([0x45, 0]), want: undefined },
    { case: 'ICMPv6 echo reply', family: 6 as const, packet: Buffer.from(echo6(129, 0x0102)), want: 0x0102 },
    {
      case: 'ICMPv6 destination unreachable: the quoted echo request',
      family: 6 as const,
      packet: Buffer.from([1, 3, 0, 0, 0, 0, 0, 0, ...ipv6Header(58), ...echo6(128, 999)]),
      want: 999,
    },
    {
      case: 'ICMPv6 error quoting something else than ICMPv6',
      family: 6 as const,
      packet: Buffer.from([1, 3, 0, 0, 0, 0, 0, 0, ...ipv6Header(17), 0, 53, 0, 53]),
      want: undefined,
    },
    { case: 'ICMPv6 neighbour solicitation', family: 6 as const, packet: Buffer.from([135, 0, 0, 0, 0, 0, 0, 0]), want: undefined },
  ])('$case', ({ family, packet, want }) => {
    expect(identifierOf(family, packet)).toBe(want);
  });
});

/** A net-ping session's socket as far as the hub uses it; its 'message' events are what the kernel would hand it. */
function fakeSession(): { session: NetPingSession; socket: EventEmitter } {
  const socket = Object.assign(new EventEmitter(), { setOption: vi.fn(), pauseRecv: vi.fn(), resumeRecv: vi.fn() });
  socket.on('message', () => {
    throw new Error("net-ping's own matching must be taken off the socket");
  });
  return { session: { getSocket: () => socket } as unknown as NetPingSession, socket };
}

describe('joinReplyHub (what the rounds are told of a received packet)', () => {
  // The session's own socket gets the same handler as the hub's (it receives for itself should
  // the hub fail), so packets emitted on it show what any received packet leads to.
  it.each([
    { case: 'IPv4 echo reply: answered', family: 4 as const, packet: ipv4(echo4(0, 0x4242, 7)), want: [[7, true]] },
    {
      case: 'IPv4 destination unreachable quoting the echo: settled, not answered',
      family: 4 as const,
      packet: ipv4([3, 1, 0, 0, 0, 0, 0, 0, 0x45, ...new Array(19).fill(0), ...echo4(8, 0x4242, 9)]),
      want: [[9, false]],
    },
    { case: 'IPv4 echo request (the host pinging itself): ignored', family: 4 as const, packet: ipv4(echo4(8, 0x4242, 7)), want: [] },
    { case: "IPv4 reply to another session's echo: ignored", family: 4 as const, packet: ipv4(echo4(0, 0x4243, 7)), want: [] },
    { case: 'ICMPv6 echo reply: answered', family: 6 as const, packet: Buffer.from(echo6(129, 0x4242, 0x1234)), want: [[0x1234, true]] },
    {
      case: 'ICMPv6 destination unreachable quoting the echo: settled, not answered',
      family: 6 as const,
      packet: Buffer.from([1, 3, 0, 0, 0, 0, 0, 0, ...ipv6Header(58), ...echo6(128, 0x4242, 3)]),
      want: [[3, false]],
    },
  ])('$case', ({ family, packet, want }) => {
    const { session, socket } = fakeSession();
    const onReply = vi.fn();
    joinReplyHub(family, 0x4242, session, onReply);
    try {
      socket.emit('message', packet, 'source');
      expect(onReply.mock.calls).toEqual(want);
    } finally {
      leaveReplyHub(family, 0x4242);
    }
  });
});
