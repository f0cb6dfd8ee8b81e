// The http(s) probe: one `GET` over a connection of its own (HTTP/1.1, `Connection: close`),
// judged by the status line; read at most MAX_HEAD_BYTES of the response, never its body.
// node:http is not used: it would parse (and buffer) headers and body of any size, and it
// cannot be told which local port to take without handing it the socket anyway.
import { checkServerIdentity, connect as tlsConnect, type TLSSocket } from 'node:tls';
import { isIP, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import type { HttpSite } from '../core/check-site.js';
import { escapeControl } from '../log/escape.js';
import { connectTcp } from './local-port.js';
import type { ProbeContext, SiteProbeResult } from './site-probe.js';

/** Bytes of the response read at most: the status line, and a redirect's Location. */
export const MAX_HEAD_BYTES = 16 << 10;
const MAX_LOCATION_CHARS = 200;

export async function requestHead(
  site: HttpSite,
  context: ProbeContext,
  addressOf: (host: string) => Promise<string>,
): Promise<SiteProbeResult> {
  const address = await addressOf(site.host);
  const started = performance.now();
  const { socket: raw, refused } = await connectTcp(address, site.port, context.path.ports, context.signal, context.sockets.addTcp);
  if (refused) return { answered: false, error: `connection refused by ${site.host} port ${site.port}` };
  const socket = site.tls ? await handshake(raw, site, context) : raw;
  const url = new URL(site.url);
  socket.write(
    `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nUser-Agent: netgwm\r\nAccept: */*\r\nConnection: close\r\n\r\n`,
  );
  const head = await readHead(socket, context.signal);
  const rttMs = performance.now() - started;
  const status = head.status;
  if (status === site.expect || (site.expect === undefined && status >= 200 && status < 300)) return { answered: true, rttMs };
  if (status >= 300 && status < 400)
    return { answered: false, error: `redirect${head.location ? ` to ${head.location}` : ` (HTTP ${status})`} (captive portal?)` };
  return { answered: false, error: `HTTP ${status}${site.expect === undefined ? '' : `, expected ${site.expect}`}` };
}

/**
 * TLS over the connected socket; SNI and the certificate's name are the URL's host. The
 * certificate is judged here rather than by `rejectUnauthorized`, which would close the
 * connection itself, with a FIN (and a TIME_WAIT on the probe's port), before the probe resets it.
 */
function handshake(raw: Socket, site: HttpSite, { signal, sockets }: ProbeContext): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    let identityError: Error | undefined;
    const socket = tlsConnect({
      socket: streamOver(raw),
      host: site.host,
      // SNI carries names only (RFC 6066).
      ...(isIP(site.host) ? {} : { servername: site.host }),
      rejectUnauthorized: false,
      checkServerIdentity: (host, certificate) => {
        identityError = checkServerIdentity(host, certificate);
        return identityError;
      },
    });
    // Errors after the handshake are seen by whoever waits then (readHead), or by nobody once the probe is over.
    socket.on('error', () => undefined);
    sockets.addLayer(socket);
    const done = (error?: Error) => {
      signal.removeEventListener('abort', abort);
      socket.removeListener('error', done);
      if (error) reject(error);
      else resolve(socket);
    };
    const abort = () => done(signal.reason as Error);
    signal.addEventListener('abort', abort, { once: true });
    socket.once('secureConnect', () => {
      if (socket.authorized || site.insecure) done();
      else done(identityError ?? new Error(`certificate not accepted (${String(socket.authorizationError)})`));
    });
    socket.once('error', done);
  });
}

/**
 * A stream that passes data to and from `raw` without owning it: TLS over a net.Socket would take
 * over its native handle, and resetting that handle under TLS can crash the process; over this
 * stream, TLS runs in JavaScript and the probe resets `raw` like any other connection. Ending or
 * destroying the stream leaves `raw` alone.
 */
function streamOver(raw: Socket): Duplex {
  const stream = new Duplex({
    read: () => void raw.resume(),
    write: (chunk: Buffer, _encoding, callback) => void raw.write(chunk, callback),
    final: (callback) => callback(),
  });
  raw.on('data', (chunk: Buffer) => {
    if (!stream.push(chunk)) raw.pause();
  });
  raw.once('end', () => stream.push(null));
  raw.once('close', () => stream.destroy());
  return stream;
}

interface Head {
  status: number;
  /** A redirect's Location, as one printable line of at most MAX_LOCATION_CHARS. */
  location?: string;
}

/**
 * Reads until the status line (and for a redirect, the end of the headers) is in, or
 * MAX_HEAD_BYTES have come; rejects when the connection ends first, the status line is not HTTP,
 * or the signal aborts.
 */
export function readHead(socket: Duplex, signal: AbortSignal): Promise<Head> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let status: number | undefined;
    const finish = (error?: Error, head?: Head) => {
      signal.removeEventListener('abort', abort);
      socket.removeListener('data', receive);
      socket.removeListener('end', ended);
      socket.removeListener('close', ended);
      socket.removeListener('error', finish);
      socket.pause();
      if (error) reject(error);
      else resolve(head!);
    };
    const receive = (chunk: Buffer) => {
      const room = MAX_HEAD_BYTES - size;
      chunks.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
      size += Math.min(chunk.length, room);
      const text = Buffer.concat(chunks).toString('latin1');
      const lineEnd = text.indexOf('\r\n');
      if (status === undefined && lineEnd >= 0) {
        const match = /^HTTP\/\d\.\d (\d{3})(?: |$)/.exec(text.slice(0, lineEnd));
        if (!match) return finish(new Error(`not an HTTP response: ${printable(text.slice(0, Math.min(lineEnd, 60)))}`));
        status = Number(match[1]);
        if (status < 300 || status >= 400) return finish(undefined, { status });
      }
      if (status !== undefined && (text.includes('\r\n\r\n') || size >= MAX_HEAD_BYTES)) return finish(undefined, redirect(status, text));
      if (size >= MAX_HEAD_BYTES) finish(new Error(`no HTTP status line in the first ${MAX_HEAD_BYTES} bytes`));
    };
    // A redirect cut short still is one; anything else ending before its status line is no answer.
    const ended = () =>
      status === undefined
        ? finish(new Error('connection closed before a response'))
        : finish(undefined, redirect(status, Buffer.concat(chunks).toString('latin1')));
    const abort = () => finish(signal.reason as Error);
    signal.addEventListener('abort', abort, { once: true });
    socket.on('data', receive);
    socket.once('end', ended);
    socket.once('close', ended);
    socket.once('error', finish);
    if (socket.destroyed) ended();
  });
}

/** A redirect's status and, if its headers (as far as read) have one, its Location. */
function redirect(status: number, text: string): Head {
  const headersEnd = text.indexOf('\r\n\r\n');
  const location = /\r\nlocation:[ \t]*([^\r\n]*)/i.exec(headersEnd >= 0 ? text.slice(0, headersEnd + 2) : text)?.[1]?.trim();
  return { status, ...(location ? { location: printable(location) } : {}) };
}

/** Text from the server as one line of at most MAX_LOCATION_CHARS. */
function printable(text: string): string {
  const clean = escapeControl(text);
  return clean.length > MAX_LOCATION_CHARS ? `${clean.slice(0, MAX_LOCATION_CHARS - 1)}…` : clean;
}
