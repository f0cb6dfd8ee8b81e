// One receiving socket per address family for the continuous rounds. The kernel hands a copy of
// every ICMP packet the host receives to every raw ICMP socket, so with one session per gateway
// each reply woke every session (8 gateways: 8 reads per reply, measured with strace, most of the
// daemon's CPU). The rounds' sessions therefore mute their own sockets (ICMP_FILTER: block every
// type) and send only; the hub's socket receives once and hands each reply to the session whose
// identifier it carries, through net-ping's own handler. Should the hub's socket fail, its
// sessions are unmuted and receive for themselves again, as before.
import { createRequire } from 'node:module';
import type { NetPingSession } from './icmp.js';

export type Family = 4 | 6;

interface RawSocket {
  on(event: 'message', listener: (buffer: Buffer, source: string) => void): unknown;
  on(event: 'error' | 'close', listener: (error?: Error) => void): unknown;
  setOption(level: number, option: number, value: number | Buffer, length?: number): void;
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

interface Hub {
  socket: RawSocket;
  members: Map<number, NetPingSession>;
}

/** Held here, so that nothing collects a socket while replies are due (net-ping's trap 4). */
const hubs = new Map<Family, Hub>();

/**
 * Has the family's hub receive `session`'s replies and mutes the session's own socket. Returns
 * false (the session keeps receiving for itself) when no hub socket can be opened.
 */
export function joinReplyHub(family: Family, sessionId: number, session: NetPingSession): boolean {
  const hub = hubs.get(family) ?? openHub(family);
  if (!hub) return false;
  try {
    setFilter(session, family, 'block');
  } catch {
    return false;
  }
  hub.members.set(sessionId, session);
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
  socket.on('message', (buffer, source) => {
    const id = identifierOf(family, buffer);
    if (id !== undefined) hub.members.get(id)?.onSocketMessage(buffer, source);
  });
  const fail = () => {
    if (hubs.get(family) !== hub) return;
    hubs.delete(family);
    for (const member of hub.members.values()) {
      try {
        setFilter(member, family, 'pass');
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

/**
 * The ICMP identifier a received packet belongs to: an echo's own, or for an error the one of the
 * echo request it quotes. IPv4 raw sockets receive the IP header too; ICMPv6 ones do not.
 */
export function identifierOf(family: Family, buffer: Buffer): number | undefined {
  const at = (offset: number) => (offset + 2 <= buffer.length ? buffer.readUInt16BE(offset) : undefined);
  if (family === 4) {
    if (buffer.length < 20) return undefined;
    const icmp = (buffer[0]! & 0x0f) * 4;
    const type = buffer[icmp];
    if (type === 0 || type === 8) return at(icmp + 4);
    if (type === undefined || !ERRORS_V4.has(type) || buffer.length <= icmp + 8) return undefined;
    const quoted = icmp + 8 + (buffer[icmp + 8]! & 0x0f) * 4;
    return at(quoted + 4);
  }
  const type = buffer[0];
  if (type === 128 || type === 129) return at(4);
  // The quoted packet: a 40-byte IPv6 header, then (without extension headers) the ICMPv6 echo.
  if (type !== undefined && ERRORS_V6.has(type) && buffer[8 + 6] === 58) return at(8 + 40 + 4);
  return undefined;
}
