// One receiving socket per address family for the continuous rounds. The kernel hands a copy of
// every ICMP packet the host receives to every raw ICMP socket, so with one session per gateway
// each reply woke every session (8 gateways: 8 reads per reply, measured with strace, most of the
// daemon's CPU). The rounds' sessions therefore mute their own sockets (ICMP_FILTER: block every
// type) and send only, never polled; the hub's socket receives once and hands each reply to the
// rounds whose identifier it carries. Should the hub's socket fail, its sessions are unmuted and
// receive for themselves again, through the same handler.
import { createRequire } from 'node:module';
import type { NetPingSession } from './icmp.js';

export type Family = 4 | 6;

interface RawSocket {
  on(event: 'message', listener: (buffer: Buffer, source: string) => void): unknown;
  on(event: 'error' | 'close', listener: (error?: Error) => void): unknown;
  removeAllListeners(event: 'message'): unknown;
  setOption(level: number, option: number, value: number | Buffer, length?: number): void;
  pauseRecv(): unknown;
  resumeRecv(): unknown;
  close(): unknown;
}
interface RawSocketModule {
  createSocket(options: { protocol: number; addressFamily: number }): RawSocket;
  AddressFamily: { IPv4: number; IPv6: number };
  Protocol: { ICMP: number; ICMPv6: number };
}

// <linux/icmp.h> ICMP_FILTER on SOL_RAW: a 32-bit mask, a set bit blocks that type.
// <netinet/icmp6.h> ICMP6_FILTER on IPPROTO_ICMPV6: 256 bits, a set bit blocks that type.
const MUTE = {
  4: { level: 255, option: 1, block: () => 0xffffffff, pass: () => 0 },
  6: { level: 58, option: 1, block: () => Buffer.alloc(32, 0xff), pass: () => Buffer.alloc(32, 0) },
} as const;

/**
 * What the rounds are told of a received packet about one of their echoes: its sequence number,
 * and whether it is the reply (false: an ICMP error quoting the echo, which will get no reply).
 */
export type ReplyHandler = (sequence: number, answered: boolean) => void;

interface Member {
  session: NetPingSession;
  onReply: ReplyHandler;
}

interface Hub {
  socket: RawSocket;
  members: Map<number, Member>;
}

/** Held here, so that nothing collects a socket while replies are due (net-ping's trap 4). */
const hubs = new Map<Family, Hub>();

/**
 * Hands every reply to an echo of `session` (ICMP identifier `sessionId`) to `onReply`: through
 * the family's hub, the session's own socket muted and no longer polled; or, when no hub socket
 * can be opened, through the session's own socket. net-ping's own matching of replies is taken
 * off the socket: the rounds send through sendEchoRequest(), not net-ping's request queue.
 * Returns whether the hub receives them.
 */
export function joinReplyHub(family: Family, sessionId: number, session: NetPingSession, onReply: ReplyHandler): boolean {
  const own = session.getSocket() as RawSocket;
  own.removeAllListeners('message');
  const handlerOf = (id: number) => (id === sessionId ? onReply : undefined);
  own.on('message', (buffer) => dispatch(family, buffer, handlerOf));
  const hub = hubs.get(family) ?? openHub(family);
  if (!hub) return false;
  try {
    setFilter(session, family, 'block');
  } catch {
    return false;
  }
  own.pauseRecv();
  hub.members.set(sessionId, { session, onReply });
  return true;
}

/** Before the session closes; the hub closes with its last member. */
export function leaveReplyHub(family: Family, sessionId: number): void {
  const hub = hubs.get(family);
  if (!hub?.members.delete(sessionId) || hub.members.size > 0) return;
  hubs.delete(family);
  hub.socket.close();
}

function openHub(family: Family): Hub | undefined {
  let raw: RawSocketModule;
  let socket: RawSocket;
  try {
    raw = createRequire(import.meta.url)('raw-socket') as RawSocketModule;
    socket = raw.createSocket(
      family === 4
        ? { protocol: raw.Protocol.ICMP, addressFamily: raw.AddressFamily.IPv4 }
        : { protocol: raw.Protocol.ICMPv6, addressFamily: raw.AddressFamily.IPv6 },
    );
  } catch {
    return undefined;
  }
  const hub: Hub = { socket, members: new Map() };
  const handlerOf = (id: number) => hub.members.get(id)?.onReply;
  socket.on('message', (buffer) => dispatch(family, buffer, handlerOf));
  const fail = () => {
    if (hubs.get(family) !== hub) return;
    hubs.delete(family);
    for (const { session } of hub.members.values()) {
      try {
        setFilter(session, family, 'pass');
        (session.getSocket() as RawSocket).resumeRecv();
      } catch {
        // A session whose socket is gone fails its echoes and is opened again by its rounds.
      }
    }
    hub.members.clear();
  };
  socket.on('error', fail);
  socket.on('close', fail);
  hubs.set(family, hub);
  return hub;
}

function setFilter(session: NetPingSession, family: Family, mode: 'block' | 'pass'): void {
  const { level, option } = MUTE[family];
  const value = MUTE[family][mode]();
  const socket = session.getSocket();
  if (typeof value === 'number') socket.setOption(level, option, value);
  else socket.setOption(level, option, value, value.length);
}

const ERRORS_V4 = new Set([3, 4, 5, 11, 12]);
const ERRORS_V6 = new Set([1, 2, 3, 4]);
const ECHO_REPLY = { 4: 0, 6: 129 } as const;
const ECHO_REQUEST = { 4: 8, 6: 128 } as const;

/** Hands a received packet about an echo to the handler of its identifier; ignores the rest. */
function dispatch(family: Family, buffer: Buffer, handlerOf: (id: number) => ReplyHandler | undefined): void {
  const echo = echoHeaderAt(family, buffer);
  if (echo < 0) return;
  const type = buffer[family === 4 ? (buffer[0]! & 0x0f) * 4 : 0];
  if (type === ECHO_REQUEST[family]) return; // our own request, seen when pinging the host itself
  handlerOf(buffer.readUInt16BE(echo + 4))?.(buffer.readUInt16BE(echo + 6), type === ECHO_REPLY[family]);
}

/**
 * The ICMP identifier a received packet belongs to: an echo's own, or for an error the one of the
 * echo request it quotes.
 */
export function identifierOf(family: Family, buffer: Buffer): number | undefined {
  const echo = echoHeaderAt(family, buffer);
  return echo < 0 ? undefined : buffer.readUInt16BE(echo + 4);
}

/**
 * Where the echo header (type, code, checksum, identifier, sequence) a received packet is about
 * starts: the packet's own for an echo, the quoted request's for an error; -1 for anything else
 * or a packet cut short. IPv4 raw sockets receive the IP header too; ICMPv6 ones do not.
 */
function echoHeaderAt(family: Family, buffer: Buffer): number {
  const whole = (offset: number) => (offset + 8 <= buffer.length ? offset : -1);
  if (family === 4) {
    if (buffer.length < 20) return -1;
    const icmp = (buffer[0]! & 0x0f) * 4;
    const type = buffer[icmp];
    if (type === 0 || type === 8) return whole(icmp);
    if (type === undefined || !ERRORS_V4.has(type) || buffer.length <= icmp + 8) return -1;
    return whole(icmp + 8 + (buffer[icmp + 8]! & 0x0f) * 4);
  }
  const type = buffer[0];
  if (type === 128 || type === 129) return whole(0);
  // The quoted packet: a 40-byte IPv6 header, then (without extension headers) the ICMPv6 echo.
  if (type !== undefined && ERRORS_V6.has(type) && buffer[8 + 6] === 58) return whole(8 + 40);
  return -1;
}
