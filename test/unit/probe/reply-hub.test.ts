import { describe, expect, it } from 'vitest';
import { identifierOf } from '../../../src/probe/reply-hub.js';

/** An IPv4 packet: a 20-byte header (IHL 5), then `icmp`. */
const ipv4 = (icmp: number[]) => Buffer.from([0x45, ...new Array(19).fill(0), ...icmp]);
/** An ICMP echo (request 8 / reply 0) with identifier `id`, sequence 1. */
const echo4 = (type: number, id: number) => [type, 0, 0, 0, id >> 8, id & 0xff, 0, 1];
const echo6 = (type: number, id: number) => [type, 0, 0, 0, id >> 8, id & 0xff, 0, 1];
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
