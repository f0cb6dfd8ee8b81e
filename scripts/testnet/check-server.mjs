// The web and TCP check servers of the check-methods lab (scripts/testnet/check-lab.ts), run under
// plain node inside the sites' namespace: `check-server.mjs CONFIG_JSON`, where the config is
// { http: [LISTEN…], https: [LISTEN…], tcp: [LISTEN…], key, cert, control, requestLog } and a
// LISTEN is `ADDRESS PORT` ("198.51.100.80 443", "2001:db8:ff::80 443").
//
// Each path has a behaviour (DEFAULT_BEHAVIOURS); the JSON file `control` overrides them and is
// read at every request, so a test switches an endpoint while the server runs: {"/generate_204":
// "500"} for every client, {"/generate_204": {"192.0.2.2": "redirect"}} for requests from that
// address only (an uplink's router address: as if that operator's transparent proxy answered). Every request is appended to `requestLog` as one JSON line (who asked, on which
// server, what was answered). Prints {"event":"listening"} once every listener is up.
import { appendFileSync, readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';

const config = JSON.parse(process.argv[2] ?? '{}');
const PORTAL_URL = 'http://portal.example.net/login';
/** How long `slow-first-byte` waits before its status line: beyond any probe timeout of the tests. */
const SLOW_FIRST_BYTE_MS = 120_000;
/** `huge-headers` sends this much of header lines before it ends the response (a 204). */
const HUGE_HEADERS_BYTES = 1024 * 1024;
const CHUNK = Buffer.alloc(1024, 'x');
const WRITE_EVERY_MS = 10;
/** Writes stop while this much is queued, so a client that does not read never piles up memory here. */
const MAX_QUEUED_BYTES = 64 * 1024;

const DEFAULT_BEHAVIOURS = {
  '/generate_204': '204',
  '/ok': '200',
  '/error': '500',
  '/portal': 'redirect',
  '/login': '200',
  '/endless': 'endless-body',
  '/huge-headers': 'huge-headers',
  '/endless-status': 'endless-status-line',
  '/slow': 'slow-first-byte',
  '/hang': 'hang',
};

function behaviourOf(path, remoteAddress) {
  let overrides = {};
  try {
    overrides = JSON.parse(readFileSync(config.control, 'utf8'));
  } catch {
    // no control file yet: the defaults
  }
  const override = overrides[path];
  const chosen = typeof override === 'object' && override !== null ? override[remoteAddress] : override;
  return chosen ?? DEFAULT_BEHAVIOURS[path] ?? '404';
}

/** Writes `next()`'s buffers while the socket takes them; stops when next() returns undefined or the socket closes. */
function pump(stream, next) {
  const write = () => {
    while (!stream.destroyed && stream.writableLength < MAX_QUEUED_BYTES) {
      const chunk = next();
      if (chunk === undefined) return;
      stream.write(chunk);
    }
    if (!stream.destroyed) stream.once('drain', write);
  };
  write();
}

function handle(server) {
  return (request, response) => {
    const path = new URL(request.url ?? '/', 'http://x').pathname;
    const { remoteAddress, remotePort } = request.socket;
    const behaviour = behaviourOf(path, remoteAddress);
    try {
      appendFileSync(
        config.requestLog,
        `${JSON.stringify({ server, path, behaviour, host: request.headers.host, remoteAddress, remotePort })}\n`,
      );
    } catch {
      // the log is for the tests' information only
    }
    request.socket.on('error', () => undefined);
    if (/^\d{3}$/.test(behaviour)) {
      const status = Number(behaviour);
      response.writeHead(status, { 'content-type': 'text/plain' });
      response.end(status === 204 || status === 304 ? undefined : `${status}\n`);
    } else if (behaviour === 'redirect') {
      response.writeHead(302, { location: PORTAL_URL, 'content-type': 'text/html' });
      response.end(`<a href="${PORTAL_URL}">log in</a>\n`);
    } else if (behaviour === 'endless-body') {
      // A chunk every 10 ms, for ever: enough to keep a reader busy without burning the machine.
      response.writeHead(200, { 'content-type': 'application/octet-stream' });
      const timer = setInterval(() => {
        if (response.writableLength < MAX_QUEUED_BYTES) response.write(CHUNK);
      }, WRITE_EVERY_MS);
      request.socket.on('close', () => clearInterval(timer));
    } else if (behaviour === 'huge-headers') {
      // Raw, past Node's own limits: a status line, then a megabyte of header lines, then the end.
      const socket = request.socket;
      let sent = 0;
      let line = 0;
      socket.write('HTTP/1.1 204 No Content\r\n');
      pump(socket, () => {
        if (sent > HUGE_HEADERS_BYTES) return undefined;
        if (sent === HUGE_HEADERS_BYTES) {
          sent += 1;
          socket.end('\r\n');
          return undefined;
        }
        const header = Buffer.from(`X-Filler-${line++}: ${'y'.repeat(1000)}\r\n`);
        sent = Math.min(sent + header.length, HUGE_HEADERS_BYTES);
        return header;
      });
    } else if (behaviour === 'endless-status-line') {
      // A status line that never ends: `HTTP/1.1 204 ` and then reason-phrase bytes for ever.
      const socket = request.socket;
      socket.write('HTTP/1.1 204 ');
      const timer = setInterval(() => {
        if (socket.writableLength < MAX_QUEUED_BYTES) socket.write(CHUNK);
      }, WRITE_EVERY_MS);
      socket.on('close', () => clearInterval(timer));
    } else if (behaviour === 'slow-first-byte') {
      const timer = setTimeout(() => {
        response.writeHead(204);
        response.end();
      }, SLOW_FIRST_BYTE_MS);
      request.socket.on('close', () => clearTimeout(timer));
    } else if (behaviour === 'hang') {
      // Never a byte: the client has to give up.
    } else {
      response.writeHead(404, { 'content-type': 'text/plain' });
      response.end('not found\n');
    }
  };
}

function listenAll(kind, listens, create) {
  return (listens ?? []).map((listen) => {
    const [address, port] = listen.split(' ');
    const server = create(`${kind} ${listen}`);
    server.on('error', (error) => console.log(JSON.stringify({ event: 'error', listen, message: String(error) })));
    return new Promise((resolve) => server.listen({ host: address, port: Number(port) }, resolve));
  });
}

const tls = config.https?.length ? { key: readFileSync(config.key), cert: readFileSync(config.cert) } : undefined;
await Promise.all([
  ...listenAll('http', config.http, (name) => http.createServer(handle(name))),
  ...listenAll('https', config.https, (name) => https.createServer(tls, handle(name))),
  // A plain TCP service: says hello and closes.
  ...listenAll('tcp', config.tcp, () =>
    net.createServer((socket) => {
      socket.on('error', () => undefined);
      socket.end('netgwm check lab\n');
    }),
  ),
]);
console.log(JSON.stringify({ event: 'listening' }));
