// Sockets bound to a local port of a gateway's probe range: `ip rule sport FROM-TO lookup TABLE`
// sends them through that gateway (Node's sockets cannot set SO_MARK). Each new socket starts at
// the port after the last one handed out in its range, so the probes running at once take
// different ports; a port in use (EADDRINUSE, or EADDRNOTAVAIL when the same connection exists)
// is skipped, MAX_TRIES times at most.
//
// A TCP socket is closed with a reset (SO_LINGER 0): no TIME_WAIT keeps its port busy for a
// minute, and with at most 64 ports a gateway would soon run out.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { isIP, Socket } from 'node:net';
import type { PortRange } from '../core/probe-paths.js';

/** Ports tried for one socket before giving up. */
export const MAX_TRIES = 8;

/** Range start → the offset of the next port to hand out. */
const nextOffset = new Map<number, number>();

/** The ports to try for one socket, starting after the last one handed out in `range`. */
export function portsToTry(range: PortRange): number[] {
  const size = range.to - range.from + 1;
  const start = nextOffset.get(range.from) ?? 0;
  nextOffset.set(range.from, (start + 1) % size);
  return Array.from({ length: Math.min(MAX_TRIES, size) }, (_, index) => range.from + ((start + index) % size));
}

const PORT_TAKEN = new Set(['EADDRINUSE', 'EADDRNOTAVAIL']);
const isPortTaken = (error: unknown) => PORT_TAKEN.has((error as NodeJS.ErrnoException).code ?? '');

/** Tries `attempt` on each port to try, until one is not taken; rethrows any other error. */
async function onFreePort<T>(range: PortRange, signal: AbortSignal, attempt: (port: number) => Promise<T>): Promise<T> {
  const ports = portsToTry(range);
  for (const port of ports) {
    signal.throwIfAborted();
    try {
      return await attempt(port);
    } catch (error) {
      if (!isPortTaken(error)) throw error;
    }
  }
  throw new Error(`no free local port among ${ports.join(', ')} (of ${range.from}-${range.to})`);
}

export interface Connected {
  socket: Socket;
  /** When the connection was established or refused, ms after it was started (performance.now()). */
  connectMs: number;
  /** True when the peer refused it (a reset): the path works, nothing listens. */
  refused: boolean;
}

/**
 * A TCP connection from a local port of `range` to `host` (an address); resolves when it is
 * established or refused, rejects on any other error or when `signal` aborts (the socket is
 * destroyed then). `onSocket` gets each socket as it is made, so that the caller can close it.
 */
export function connectTcp(
  host: string,
  port: number,
  range: PortRange,
  signal: AbortSignal,
  onSocket: (socket: Socket) => void,
): Promise<Connected> {
  return onFreePort(range, signal, (localPort) => {
    const started = performance.now();
    const socket = new Socket();
    // Errors after the connect are seen by whoever waits then, or by nobody once the probe is over.
    socket.on('error', () => undefined);
    onSocket(socket);
    return new Promise<Connected>((resolve, reject) => {
      const done = (error?: Error & { code?: string }) => {
        signal.removeEventListener('abort', abort);
        socket.removeListener('connect', connected);
        socket.removeListener('error', done);
        if (error?.code === 'ECONNREFUSED') resolve({ socket, connectMs: performance.now() - started, refused: true });
        else if (error) {
          closeTcp(socket);
          reject(error);
        } else resolve({ socket, connectMs: performance.now() - started, refused: false });
      };
      const connected = () => done();
      const abort = () => done(signal.reason as Error);
      signal.addEventListener('abort', abort, { once: true });
      socket.once('connect', connected);
      socket.once('error', done);
      socket.connect({ host, port, localPort, family: isIP(host) });
    });
  });
}

/**
 * Closes a TCP socket with a reset when it is connected (no TIME_WAIT); one still connecting has
 * nothing to linger. A socket that TLS runs over is reset the same way (its handle is still the
 * TCP one, though it no longer reads itself): close it before the TLS socket.
 */
export function closeTcp(socket: Socket): void {
  if (socket.destroyed) return;
  if (socket.connecting) {
    socket.destroy();
    return;
  }
  try {
    socket.resetAndDestroy();
  } catch {
    socket.destroy();
  }
}

/** A UDP socket bound to a local port of `range` and connected to `host`:`port` (only its datagrams come in). */
export function connectUdp(
  host: string,
  port: number,
  range: PortRange,
  signal: AbortSignal,
  onSocket: (socket: UdpSocket) => void,
): Promise<UdpSocket> {
  return onFreePort(range, signal, (localPort) => {
    const socket = createSocket({ type: isIP(host) === 6 ? 'udp6' : 'udp4' });
    socket.on('error', () => undefined);
    onSocket(socket);
    return new Promise<UdpSocket>((resolve, reject) => {
      const done = (error?: Error) => {
        signal.removeEventListener('abort', abort);
        socket.removeListener('error', done);
        if (error) {
          closeUdp(socket);
          reject(error);
        } else resolve(socket);
      };
      const abort = () => done(signal.reason as Error);
      signal.addEventListener('abort', abort, { once: true });
      socket.once('error', done);
      // connect() hands its failure (no route: ENETUNREACH…) to its callback, not to 'error'
      // (@types/node leaves that argument out).
      const connected = ((error?: Error) => done(error)) as () => void;
      socket.bind({ port: localPort, exclusive: true }, () => socket.connect(port, host, connected));
    });
  });
}

export function closeUdp(socket: UdpSocket): void {
  socket.on('error', () => undefined);
  try {
    socket.close();
  } catch {
    // already closed
  }
}
