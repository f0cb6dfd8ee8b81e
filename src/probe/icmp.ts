/**
 * ICMP echo probing on top of net-ping (raw sockets, needs root or CAP_NET_RAW).
 *
 * net-ping 1.2.4 has four traps this module works around:
 *  1. Every session defaults to the same ICMP identifier (`process.pid % 65535`), and every raw
 *     ICMP socket sees every ICMP packet the host receives, so concurrent sessions take each
 *     other's replies (a silent target "answers" with another target's reply). We give every open
 *     session its own identifier.
 *  2. An IPv4 session asked to ping an IPv6 address sends to a garbage sockaddr (in practice
 *     0.0.0.0, i.e. the host itself) and reports success. We pick the session's family from the
 *     address and refuse anything that is not an IP address.
 *  3. IPv6 ICMP errors (destination unreachable, time exceeded, ...) are never matched to their
 *     request: net-ping looks for the identifier at a fixed offset of the error message itself
 *     instead of inside the quoted packet. They surface as plain timeouts after `timeoutMs`. IPv4
 *     errors are matched and reported in `error`.
 *  4. Nothing in net-ping references a session between `pingHost()` and the moment the echo is
 *     written (the native socket handle is weak), so a GC in that window closes the socket and
 *     the callback never fires. We hold every open session in `openSessions` until closed.
 *
 * pingAddress opens a session per call; the monitor's rounds (icmp-rounds.ts) keep one per gateway
 * and family for as long as they run, through the same session helpers, but send with
 * echoRequestSender() and receive through reply-hub.ts rather than net-ping's request queue.
 */
import { createRequire } from 'node:module';
import net from 'node:net';
import { performance } from 'node:perf_hooks';

export interface PingOptions {
  /** Echoes per address, sent back to back (no 1 s gap like ping(8)). */
  count: number;
  /** How long to wait for each echo's reply, ms. */
  timeoutMs: number;
  /** SO_MARK for the socket, to steer the echoes with policy routing. */
  mark?: number;
  /** Abort: resolve promptly with what we have (unanswered echoes count as not answered). */
  signal?: AbortSignal;
}

export interface PingResult {
  address: string;
  /** True when at least one echo got its reply. */
  answered: boolean;
  replies: number;
  /** Echoes that actually left the socket. */
  sent: number;
  /** Mean round-trip time of the answered echoes, ms rounded to 0.01. */
  rttMs?: number;
  /** Short text when something other than a timeout happened. */
  error?: string;
}

// The slice of net-ping's (untyped, CommonJS) API this module and icmp-rounds.ts use.
export type EchoCallback = (error: Error | null, target: string, sent?: Date, received?: Date) => void;
interface NetPingRequest {
  callback: EchoCallback;
}
/** raw-socket's native socket, under its JavaScript Socket: send() is sendto(2) on the spot. */
interface RawSocketWrap {
  send(buffer: Buffer, offset: number, length: number, address: string, afterSend: (bytes: number) => void): unknown;
}
export interface NetPingSession {
  pingHost(target: string, callback: EchoCallback): unknown;
  getSocket(): { setOption(level: number, option: number, value: number | Buffer, length?: number): void; wrap?: RawSocketWrap };
  close(): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  /** net-ping's handler of a received packet (src/probe/reply-hub.ts hands it the session's replies). */
  onSocketMessage(buffer: Buffer, source: string): void;
  /** Internal hook net-ping calls right after sendto() for each request (looked up per send). */
  onSocketSend(request: NetPingRequest, error: Error | null, bytes?: number): void;
}
export interface NetPingModule {
  createSession(options: { sessionId: number; retries: number; timeout: number; networkProtocol: number }): NetPingSession;
  NetworkProtocol: { IPv4: number; IPv6: number };
}

const SOL_SOCKET = 1;
const SO_MARK = 36;
/** net-ping reduces ids modulo 65535 and treats 0 as "use the pid", so 1..65534 are usable. */
const MAX_SESSION_ID = 65534;

let netPing: NetPingModule | undefined;

/** Loads net-ping on first use so that importing this module never loads the native addon. */
export function requireNetPing(): NetPingModule {
  if (netPing === undefined) {
    try {
      netPing = createRequire(import.meta.url)('net-ping') as NetPingModule;
    } catch (cause) {
      throw new Error(`ICMP probing unavailable: cannot load net-ping and its native raw-socket module (${messageOf(cause)})`, { cause });
    }
  }
  return netPing;
}

/**
 * Throws a clear Error if ICMP probing cannot work here: the native raw-socket module does not
 * load, or a raw ICMP socket cannot be opened (not root / no CAP_NET_RAW).
 */
export async function loadIcmp(): Promise<void> {
  const np = requireNetPing();
  let session: NetPingSession;
  try {
    session = np.createSession({
      sessionId: 1,
      retries: 0,
      timeout: 1000,
      networkProtocol: np.NetworkProtocol.IPv4,
    });
  } catch (cause) {
    throw new Error(`ICMP probing unavailable: cannot open a raw ICMP socket (${messageOf(cause)}); needs root or CAP_NET_RAW`, { cause });
  }
  session.close();
}

/**
 * Open sessions by ICMP identifier. The strong references keep sessions alive while echoes are
 * in flight (trap 4); the keys are the identifiers currently taken (trap 1).
 */
const openSessions = new Map<number, NetPingSession>();
let lastSessionId = Math.floor(Math.random() * MAX_SESSION_ID);

function allocateSessionId(): number | undefined {
  for (let tried = 0; tried < MAX_SESSION_ID; tried++) {
    lastSessionId = (lastSessionId % MAX_SESSION_ID) + 1;
    if (!openSessions.has(lastSessionId)) return lastSessionId;
  }
  return undefined;
}

export type OpenedSession = { session: NetPingSession; sessionId: number } | { error: string };

/**
 * A session with an identifier no other open session has (trap 1), of `address`'s family
 * (trap 2), held until closeSession() (trap 4). Every echo waits `timeoutMs` for its reply.
 */
export function openSession(np: NetPingModule, address: string, options: Pick<PingOptions, 'timeoutMs' | 'mark'>): OpenedSession {
  const sessionId = allocateSessionId();
  if (sessionId === undefined) return { error: 'socket: no free ICMP identifier' };
  let session: NetPingSession;
  try {
    session = np.createSession({
      sessionId,
      retries: 0,
      timeout: options.timeoutMs,
      // Trap 2: the session family must match the address family. (isIP, not isIPv6: an IPv4
      // address never reaches the IPv6 pattern, whose first use compiles it, 4-30 ms of a run.)
      networkProtocol: net.isIP(address) === 6 ? np.NetworkProtocol.IPv6 : np.NetworkProtocol.IPv4,
    });
  } catch (error) {
    return { error: `socket: ${messageOf(error)}` };
  }
  openSessions.set(sessionId, session);
  if (options.mark !== undefined) {
    try {
      session.getSocket().setOption(SOL_SOCKET, SO_MARK, options.mark);
    } catch (error) {
      closeSession(sessionId, session);
      return { error: `SO_MARK: ${messageOf(error)}` };
    }
  }
  return { session, sessionId };
}

export function closeSession(sessionId: number, session: NetPingSession): void {
  openSessions.delete(sessionId);
  session.close();
}

/**
 * Calls `listener` with the request's callback the moment each echo has been written.
 * net-ping only keeps a Date (1 ms resolution) and does not tell whether the echo was sent.
 */
export function onEchoSent(session: NetPingSession, listener: (callback: EchoCallback) => void): void {
  const original = session.onSocketSend;
  session.onSocketSend = function (this: NetPingSession, request, error, bytes) {
    if (!error) listener(request.callback);
    original.call(this, request, error, bytes);
  };
}

/** net-ping's echo request: the 8-byte header, then 8 zero bytes (its default packetSize 16). */
const ECHO_REQUEST_BYTES = 16;
const ignoreSent = (): void => undefined;

/**
 * Sends `session`'s echo requests at once: sendto(2) on its socket, throwing what sendto throws
 * (e.g. no route). net-ping's pingHost() queues each request in raw-socket, which starts polling
 * the socket for writability, sends when it is told it may and stops polling again (epoll re-armed
 * twice per echo), and adds a Date, two bound functions and a timer per request: most of the
 * daemon's CPU at 100 echoes a second. The caller matches replies (reply-hub.ts) and times the
 * echoes out itself. One buffer is reused: sendto copies it.
 */
export function echoRequestSender(session: NetPingSession, address: string, sessionId: number): (sequence: number) => void {
  const wrap = session.getSocket().wrap;
  if (typeof wrap?.send !== 'function') throw new Error('raw-socket has no native send(): a raw-socket version this code does not know');
  const packet = Buffer.alloc(ECHO_REQUEST_BYTES);
  packet[0] = net.isIPv6(address) ? 128 : 8;
  packet.writeUInt16BE(sessionId, 4);
  return (sequence) => {
    packet.writeUInt16BE(sequence, 6);
    packet.writeUInt16BE(0, 2);
    // For ICMPv6 the kernel computes the checksum itself and overwrites this one.
    packet.writeUInt16BE(internetChecksum(packet), 2);
    wrap.send(packet, 0, packet.length, address, ignoreSent);
  };
}

/** RFC 1071: the ones' complement of the ones' complement sum of the 16-bit words. */
export function internetChecksum(data: Buffer): number {
  let sum = 0;
  for (let i = 0; i + 1 < data.length; i += 2) sum += data.readUInt16BE(i);
  if (data.length % 2 === 1) sum += data[data.length - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** What the echoes of one pingAddress call have produced so far. */
interface Tally {
  sent: number;
  rtts: number[];
  error?: string;
}

function summarize(address: string, tally: Tally): PingResult {
  const result: PingResult = {
    address,
    answered: tally.rtts.length > 0,
    replies: tally.rtts.length,
    sent: tally.sent,
  };
  if (tally.rtts.length > 0) {
    const mean = tally.rtts.reduce((sum, rtt) => sum + rtt, 0) / tally.rtts.length;
    result.rttMs = Math.round(mean * 100) / 100;
  }
  if (tally.error !== undefined) result.error = tally.error;
  return result;
}

/** Short text for an echo that failed, or undefined when it merely timed out. */
function describeFailure(error: Error, wasSent: boolean): string | undefined {
  if (error.name === 'RequestTimedOutError') return undefined;
  return wasSent ? error.message : `send: ${error.message}`;
}

function validate(address: string, options: PingOptions): void {
  if (net.isIP(address) === 0) throw new Error(`pingAddress: not an IP address: ${JSON.stringify(address)}`);
  if (!Number.isInteger(options.count) || options.count < 1 || options.count > 1000) {
    throw new Error(`pingAddress: count must be an integer in 1..1000, got ${options.count}`);
  }
  // net-ping silently turns a timeout of 0 into 2000 ms.
  if (!Number.isFinite(options.timeoutMs) || options.timeoutMs < 1) {
    throw new Error(`pingAddress: timeoutMs must be >= 1, got ${options.timeoutMs}`);
  }
  validateMark('pingAddress', options.mark);
}

export function validateMark(caller: string, mark: number | undefined): void {
  if (mark !== undefined && (!Number.isInteger(mark) || mark < 0 || mark > 0xffffffff)) {
    throw new Error(`${caller}: mark must be a 32-bit unsigned integer, got ${mark}`);
  }
}

/**
 * Ping one IPv4 or IPv6 address `count` times concurrently. Never throws for network failures;
 * rejects only for programming errors (not an IP address, bad options).
 */
export function pingAddress(address: string, options: PingOptions): Promise<PingResult> {
  let np: NetPingModule;
  try {
    validate(address, options);
    np = requireNetPing();
  } catch (error) {
    return Promise.reject(error);
  }
  return sendEchoes(np, address, options);
}

function sendEchoes(np: NetPingModule, address: string, options: PingOptions): Promise<PingResult> {
  const tally: Tally = { sent: 0, rtts: [] };
  if (options.signal?.aborted) return Promise.resolve(summarize(address, tally));
  const opened = openSession(np, address, options);
  if ('error' in opened) return Promise.resolve(summarize(address, { ...tally, error: opened.error }));
  const { session, sessionId } = opened;

  return new Promise((resolve) => {
    let pending = options.count;
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      options.signal?.removeEventListener('abort', finish);
      // Closing flushes still-pending echoes through their callbacks; `finished` ignores them.
      closeSession(sessionId, session);
      resolve(summarize(address, tally));
    };

    // A socket error closes the socket, which fails the pending echoes with "Socket closed";
    // keep the cause. Listening also stops EventEmitter from throwing an unhandled 'error'.
    session.on('error', (error) => {
      tally.error ??= `socket: ${error.message}`;
    });

    const sentAt = new Map<EchoCallback, number>();
    onEchoSent(session, (callback) => {
      sentAt.set(callback, performance.now());
      tally.sent++;
    });

    const settle = (callback: EchoCallback, error: Error | null): void => {
      if (finished) return;
      const start = sentAt.get(callback);
      if (error === null && start !== undefined) {
        tally.rtts.push(performance.now() - start);
      } else if (error !== null) {
        tally.error ??= describeFailure(error, start !== undefined);
      }
      if (--pending === 0) finish();
    };

    // `!finished`: a synchronous failure must not make us use a closed session, which would
    // silently open a new socket.
    for (let i = 0; i < options.count && !finished; i++) {
      const callback: EchoCallback = (error) => settle(callback, error);
      session.pingHost(address, callback);
    }
    options.signal?.addEventListener('abort', finish, { once: true });
  });
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
