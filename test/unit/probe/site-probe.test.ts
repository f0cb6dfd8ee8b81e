// probeSite against real servers on loopback: the protocol logic (what counts as answered, the
// bounds on a hostile server, the local ports and the reset) without a network. That the ports
// take the gateway's path is test/e2e/probe/site-probe.test.ts.
import { execFile } from 'node:child_process';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DnsSite, HttpSite, TcpSite } from '../../../src/core/check-site.js';
import { MAX_HEAD_BYTES, readHead } from '../../../src/probe/http-head.js';
import { nameservers } from '../../../src/probe/dns-client.js';
import { probeSite, type SiteProbePath } from '../../../src/probe/site-probe.js';
import { tempDir } from '../../support/temp-dir.js';

const run = promisify(execFile);
const LOCALHOST = '127.0.0.1';
// A range of 64 ports of its own per test file run, above the kernel's default ephemeral ports
// (32768-60999), which other programs' connections take.
const BASE = 61000 + 64 * Math.floor(Math.random() * 70);
const PATH: SiteProbePath = { family: 4, ports: { from: BASE, to: BASE + 63 } };
const inRange = (port: number | undefined) => port !== undefined && port >= PATH.ports.from && port <= PATH.ports.to;

const closers: Array<() => unknown> = [];
afterAll(async () => {
  for (const close of closers.splice(0)) await close();
});

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, LOCALHOST, resolve));
  closers.push(() => new Promise((resolve) => server.close(resolve)));
  return (server.address() as { port: number }).port;
}

/** Connections from PATH's range to `serverPort` in TIME_WAIT (there must be none: probes close with a reset). */
async function timeWaits(serverPort: number): Promise<string> {
  const filter = `( sport >= :${PATH.ports.from} and sport <= :${PATH.ports.to} and dport = :${serverPort} )`;
  const { stdout } = await run('ss', ['-Htan', 'state', 'time-wait', filter]);
  return stdout.trim();
}

/** Resolves when `socket` is closed, with whether it was reset. */
const closed = (socket: Socket) =>
  new Promise<{ reset: boolean }>((resolve) => {
    let reset = false;
    socket.on('error', (error: NodeJS.ErrnoException) => {
      reset ||= error.code === 'ECONNRESET';
    });
    socket.on('close', () => resolve({ reset }));
  });

describe('tcp', () => {
  let port: number;
  const accepted: Array<{ remotePort?: number; closed: Promise<{ reset: boolean }> }> = [];
  beforeAll(async () => {
    port = await listen(createServer((socket) => accepted.push({ remotePort: socket.remotePort, closed: closed(socket) })));
  });
  const site = (target: number): TcpSite => ({ method: 'tcp', key: `tcp:${LOCALHOST}:${target}`, host: LOCALHOST, port: target });

  it('an accepted connection is answered, from a port of the range, closed with a reset (no TIME_WAIT)', async () => {
    const result = await probeSite(site(port), PATH, { timeoutMs: 5000 });
    expect(result).toEqual({ answered: true, rttMs: expect.any(Number) });
    const socket = accepted.at(-1)!;
    expect(inRange(socket.remotePort)).toBe(true);
    expect(await socket.closed).toEqual({ reset: true });
    expect(await timeWaits(port)).toBe('');
  });

  it('a refused connection is answered too: the path works, nothing listens', async () => {
    const free = await listen(createServer());
    await closers.pop()!();
    expect(await probeSite(site(free), PATH, { timeoutMs: 5000 })).toEqual({ answered: true, rttMs: expect.any(Number) });
  });

  it('ports in use are skipped; with every port to try in use, the probe says so', async () => {
    const small: SiteProbePath = { family: 4, ports: { from: BASE, to: BASE + 2 } };
    const holders = [createServer(), createServer()];
    for (const [index, holder] of holders.entries()) await new Promise<void>((resolve) => holder.listen(BASE + index, '0.0.0.0', resolve));
    try {
      for (let probe = 0; probe < 3; probe++) {
        expect(await probeSite(site(port), small, { timeoutMs: 5000 })).toMatchObject({ answered: true });
        expect(accepted.at(-1)!.remotePort).toBe(BASE + 2);
      }
      const third = createServer();
      await new Promise<void>((resolve) => third.listen(BASE + 2, '0.0.0.0', resolve));
      holders.push(third);
      expect(await probeSite(site(port), small, { timeoutMs: 5000 })).toEqual({
        answered: false,
        error: expect.stringMatching(new RegExp(`^no free local port among .* \\(of ${BASE}-${BASE + 2}\\)$`)),
      });
    } finally {
      for (const holder of holders) await new Promise((resolve) => holder.close(resolve));
    }
  });

  it('an address that does not parse as one is looked up, and without a DNS server that fails at once', async () => {
    const resolvConf = join(await tempDir('resolv'), 'resolv.conf');
    await writeFile(resolvConf, 'nameserver 127.0.0.53\nnameserver ::1\n');
    const name: TcpSite = { method: 'tcp', key: 'tcp:check.test:443', host: 'check.test', port: 443 };
    expect(await probeSite(name, PATH, { timeoutMs: 5000, resolvConf })).toEqual({
      answered: false,
      error: `no DNS server for check.test: ${resolvConf} names none but loopback ones; give the site a \`server\``,
    });
  });
});

/** A DNS server on loopback: `answer` decides the datagrams it sends back to each query. */
async function dnsServer(answer: (query: Buffer) => Buffer[]): Promise<{ port: number; sources: number[] }> {
  const socket: UdpSocket = createSocket('udp4');
  const sources: number[] = [];
  socket.on('message', (query, from) => {
    sources.push(from.port);
    for (const datagram of answer(query)) socket.send(datagram, from.port, from.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, LOCALHOST, resolve));
  closers.push(() => new Promise<void>((resolve) => socket.close(() => resolve())));
  return { port: socket.address().port, sources };
}

/** The reply to `query`: its header with QR set and `rcode`, its question, and A records for `addresses`. */
function replyTo(query: Buffer, rcode = 0, addresses: string[] = [], id?: number): Buffer {
  const header = Buffer.from(query.subarray(0, 12));
  if (id !== undefined) header.writeUInt16BE(id, 0);
  header.writeUInt16BE(0x8180 | rcode, 2);
  header.writeUInt16BE(addresses.length, 6);
  const records = addresses.map((address) =>
    Buffer.concat([Buffer.from('c00c000100010000012c0004', 'hex'), Buffer.from(address.split('.').map(Number))]),
  );
  return Buffer.concat([header, query.subarray(12), ...records]);
}

describe('dns', () => {
  const site = (name: string): DnsSite => ({ method: 'dns', key: `dns:${name}@${LOCALHOST}/A`, name, server: LOCALHOST, type: 'A' });
  let dnsPort: number;
  let sources: number[];
  beforeAll(async () => {
    ({ port: dnsPort, sources } = await dnsServer((query) => {
      const name = query.subarray(13, 13 + query[12]!).toString();
      const id = query.readUInt16BE(0);
      switch (name) {
        case 'ok':
          return [replyTo(query, 0, ['198.51.100.7'])];
        case 'nodata':
          return [replyTo(query)];
        case 'nxdomain':
          return [replyTo(query, 3)];
        case 'servfail':
          return [replyTo(query, 2)];
        case 'refused':
          return [replyTo(query, 5)];
        case 'late':
          // Another id first, then a malformed copy, then the answer.
          return [replyTo(query, 2, [], id ^ 1), replyTo(query, 2).subarray(0, 14), replyTo(query, 0, ['198.51.100.7'])];
        case 'malformed':
          return [replyTo(query, 0, ['198.51.100.7']).subarray(0, 30)];
        default:
          return [];
      }
    }));
  });

  it('NOERROR (with or without records) and NXDOMAIN are answers; SERVFAIL and REFUSED are not', async () => {
    const probe = (name: string) => probeSite(site(name), PATH, { timeoutMs: 5000, dnsPort });
    expect(await probe('ok')).toEqual({ answered: true, rttMs: expect.any(Number) });
    expect(await probe('nodata')).toEqual({ answered: true, rttMs: expect.any(Number) });
    expect(await probe('nxdomain')).toEqual({ answered: true, rttMs: expect.any(Number) });
    expect(await probe('servfail')).toEqual({ answered: false, error: 'SERVFAIL' });
    expect(await probe('refused')).toEqual({ answered: false, error: 'REFUSED' });
    expect(sources.every(inRange)).toBe(true);
  });

  it('datagrams that are not the answer are ignored until it comes', async () => {
    expect(await probeSite(site('late'), PATH, { timeoutMs: 5000, dnsPort })).toEqual({ answered: true, rttMs: expect.any(Number) });
  });

  it('no answer is a timeout, which names a malformed reply it ignored', async () => {
    expect(await probeSite(site('silent'), PATH, { timeoutMs: 300, dnsPort })).toEqual({ answered: false, error: 'timeout' });
    expect(await probeSite(site('malformed'), PATH, { timeoutMs: 300, dnsPort })).toEqual({
      answered: false,
      error: 'timeout (ignored a malformed reply (cut short at byte 30))',
    });
  });

  it('no server there: the port unreachable ends the probe at once', async () => {
    const gone = createSocket('udp4');
    await new Promise<void>((resolve) => gone.bind(0, LOCALHOST, resolve));
    const port = gone.address().port;
    await new Promise<void>((resolve) => gone.close(() => resolve()));
    expect(await probeSite(site('ok'), PATH, { timeoutMs: 30_000, dnsPort: port })).toEqual({
      answered: false,
      error: 'port unreachable (no DNS server there)',
    });
  });

  it('is cancelled by its signal, also one aborted before it started', async () => {
    const controller = new AbortController();
    const probe = probeSite(site('silent'), PATH, { timeoutMs: 30_000, dnsPort, signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    expect(await probe).toEqual({ answered: false, error: 'cancelled' });
    expect(await probeSite(site('ok'), PATH, { timeoutMs: 30_000, dnsPort, signal: AbortSignal.abort() })).toEqual({
      answered: false,
      error: 'cancelled',
    });
  });

  it('resolv.conf: loopback servers are left out, those of the family come first', async () => {
    const file = join(await tempDir('resolv'), 'resolv.conf');
    await writeFile(file, '# comment\nnameserver 127.0.0.53\nnameserver 2001:db8::53\nnameserver 198.51.100.53\nsearch example\n');
    expect(await nameservers(4, file)).toEqual(['198.51.100.53', '2001:db8::53']);
    expect(await nameservers(6, file)).toEqual(['2001:db8::53', '198.51.100.53']);
    expect(await nameservers(4, join(file, 'none'))).toEqual([]);
  });
});

/**
 * A raw HTTP server: each request (its path) gets what `respond` writes; `respond` may keep
 * writing until the socket fails. Returns the port and the sockets it served.
 */
async function httpServer(respond: (path: string, socket: Socket) => void, tls?: { key: string; cert: string }) {
  const served: Array<{ remotePort?: number; closed: Promise<{ reset: boolean }> }> = [];
  const servernames: Array<string | false | null> = [];
  const handle = (socket: Socket) => {
    served.push({ remotePort: socket.remotePort, closed: closed(socket) });
    let request = '';
    socket.on('data', (chunk) => {
      request += chunk.toString('latin1');
      if (request.includes('\r\n\r\n')) respond(request.split(' ')[1]!, socket);
    });
  };
  const server = tls
    ? createTlsServer(tls, (socket: TLSSocket) => {
        servernames.push(socket.servername);
        handle(socket);
      })
    : createServer(handle);
  return { port: await listen(server), served, servernames };
}

/** Writes `chunk` again and again until the socket fails; resolves with the bytes written. */
function flood(socket: Socket, first: string, chunk: string): Promise<number> {
  let written = 0;
  return new Promise((resolve) => {
    socket.on('error', () => resolve(written));
    socket.on('close', () => resolve(written));
    socket.write(first);
    const more = () => {
      while (!socket.destroyed && socket.write(chunk)) written += chunk.length;
      if (!socket.destroyed) socket.once('drain', more);
    };
    more();
  });
}

const response = (status: string, headers: string[] = []) =>
  `HTTP/1.1 ${status}\r\n${[...headers, 'Content-Length: 0'].map((line) => `${line}\r\n`).join('')}\r\n`;

describe('http', () => {
  let port: number;
  let served: Array<{ remotePort?: number; closed: Promise<{ reset: boolean }> }>;
  const floods: Array<Promise<number>> = [];
  beforeAll(async () => {
    ({ port, served } = await httpServer((path, socket) => {
      if (path === '/generate_204') socket.end(response('204 No Content'));
      else if (path === '/ok') socket.end(response('200 OK'));
      else if (path === '/error') socket.end(response('500 Internal Server Error'));
      else if (path === '/portal') socket.end(response('302 Found', ['Location: http://portal.example/login?from=x']));
      else if (path === '/moved') socket.end(response('301 Moved Permanently'));
      else if (path === '/endless-body')
        floods.push(flood(socket, 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n', 'x'.repeat(4096)));
      else if (path === '/endless-headers') floods.push(flood(socket, 'HTTP/1.1 302 Found\r\n', `X-Pad: ${'y'.repeat(1000)}\r\n`));
      else if (path === '/endless-status') floods.push(flood(socket, 'HTTP/1.1 200 ', 'z'.repeat(4096)));
      else if (path === '/garbage') socket.end('SSH-2.0-OpenSSH_9.2\r\n');
      else if (path === '/hang-up') socket.destroy();
      // else: no answer at all (a slow first byte)
    }));
  });
  const site = (path: string, extra: Partial<HttpSite> = {}): HttpSite => {
    const url = `http://${LOCALHOST}:${port}${path}`;
    return { method: 'http', key: url, url, host: LOCALHOST, port, tls: false, insecure: false, ...extra };
  };
  const probe = (path: string, extra: Partial<HttpSite> = {}, timeoutMs = 5000) => probeSite(site(path, extra), PATH, { timeoutMs });

  it('the expected status, or any 2xx without one, is answered; the connection is reset (no TIME_WAIT)', async () => {
    expect(await probe('/generate_204', { expect: 204 })).toEqual({ answered: true, rttMs: expect.any(Number) });
    expect(await probe('/ok')).toEqual({ answered: true, rttMs: expect.any(Number) });
    expect(await probe('/generate_204')).toEqual({ answered: true, rttMs: expect.any(Number) });
    expect(served.every(({ remotePort }) => inRange(remotePort))).toBe(true);
    await Promise.all(served.map(({ closed }) => closed));
    expect(await timeWaits(port)).toBe('');
  });

  it('32 probes at once (the most check sites a config has) each get a port of their own, again and again', async () => {
    for (let round = 0; round < 5; round++) {
      const before = served.length;
      const results = await Promise.all(Array.from({ length: 32 }, () => probe('/generate_204')));
      expect(results.every((result) => result.answered)).toBe(true);
      const ports = served.slice(before).map(({ remotePort }) => remotePort);
      expect(new Set(ports).size).toBe(32);
      expect(ports.every(inRange)).toBe(true);
    }
    await Promise.all(served.map(({ closed }) => closed));
    expect(await timeWaits(port)).toBe('');
  });

  it('another status is not answered, and says which', async () => {
    expect(await probe('/error')).toEqual({ answered: false, error: 'HTTP 500' });
    expect(await probe('/error', { expect: 204 })).toEqual({ answered: false, error: 'HTTP 500, expected 204' });
    expect(await probe('/ok', { expect: 204 })).toEqual({ answered: false, error: 'HTTP 200, expected 204' });
  });

  it('a redirect is a captive portal, not an answer (unless it is the status expected)', async () => {
    expect(await probe('/portal')).toEqual({ answered: false, error: 'redirect to http://portal.example/login?from=x (captive portal?)' });
    expect(await probe('/moved')).toEqual({ answered: false, error: 'redirect (HTTP 301) (captive portal?)' });
    expect(await probe('/portal', { expect: 302 })).toEqual({ answered: true, rttMs: expect.any(Number) });
  });

  it('a never-ending body, endless headers or status line end the probe at once, reading 16 KiB at most', async () => {
    expect(await probe('/endless-body', {}, 30_000)).toEqual({ answered: true, rttMs: expect.any(Number) });
    expect(await probe('/endless-headers', {}, 30_000)).toEqual({ answered: false, error: 'redirect (HTTP 302) (captive portal?)' });
    expect(await probe('/endless-status', {}, 30_000)).toEqual({
      answered: false,
      error: `no HTTP status line in the first ${MAX_HEAD_BYTES} bytes`,
    });
    // Each flooding server was cut off by the probe's reset (it would write forever otherwise).
    expect(await Promise.all(floods)).toHaveLength(3);
  });

  it('a server that never answers is a timeout; one that hangs up or speaks another protocol says so', async () => {
    expect(await probe('/slow', {}, 300)).toEqual({ answered: false, error: 'timeout' });
    expect(await probe('/hang-up')).toEqual({ answered: false, error: 'connection closed before a response' });
    expect(await probe('/garbage')).toEqual({ answered: false, error: 'not an HTTP response: SSH-2.0-OpenSSH_9.2' });
  });

  it("the URL's host name is looked up through the probe's DNS client, with the site's server", async () => {
    const { port: dnsPort, sources } = await dnsServer((query) => {
      const name = query.subarray(13, 13 + query[12]!).toString();
      return [name === 'check' ? replyTo(query, 0, [LOCALHOST]) : name === 'nodata' ? replyTo(query) : replyTo(query, 3)];
    });
    const named = (host: string): HttpSite => {
      const url = `http://${host}:${port}/generate_204`;
      return { method: 'http', key: url, url, host, port, tls: false, insecure: false, server: LOCALHOST };
    };
    expect(await probeSite(named('check.test'), PATH, { timeoutMs: 5000, dnsPort })).toEqual({ answered: true, rttMs: expect.any(Number) });
    expect(await probeSite(named('gone.test'), PATH, { timeoutMs: 5000, dnsPort })).toEqual({
      answered: false,
      error: `cannot resolve gone.test: NXDOMAIN from ${LOCALHOST}`,
    });
    expect(await probeSite(named('nodata.test'), PATH, { timeoutMs: 5000, dnsPort })).toEqual({
      answered: false,
      error: 'cannot resolve nodata.test: no A record',
    });
    expect(sources.every(inRange)).toBe(true);
  });
});

describe('readHead', () => {
  it('stops reading at 16 KiB of endless headers: the stream is left paused with no reader', async () => {
    const stream = new PassThrough();
    const head = readHead(stream, new AbortController().signal);
    stream.write('HTTP/1.1 302 Found\r\n');
    for (let line = 0; line < 100; line++) stream.write(`X-Pad: ${'y'.repeat(1000)}\r\n`);
    expect(await head).toEqual({ status: 302 });
    expect(stream.listenerCount('data')).toBe(0);
    expect(stream.isPaused()).toBe(true);
  });

  it("takes a redirect's Location from the headers read, as one line", async () => {
    const stream = new PassThrough();
    const head = readHead(stream, new AbortController().signal);
    stream.end('HTTP/1.0 307 Temporary Redirect\r\nX-A: b\r\nlocation:  http://portal.example/\u001b[31m \r\n\r\nbody');
    expect(await head).toEqual({ status: 307, location: 'http://portal.example/\\x1b[31m' });
  });
});

describe('https', () => {
  let port: number;
  let dnsPort: number;
  let servernames: Array<string | false | null>;
  let served: Array<{ remotePort?: number; closed: Promise<{ reset: boolean }> }>;
  beforeAll(async () => {
    const dir = await tempDir('tls');
    const [key, cert] = [join(dir, 'key.pem'), join(dir, 'cert.pem')];
    await run('openssl', [
      ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=check.test'],
      ...['-addext', 'subjectAltName=DNS:check.test', '-keyout', key, '-out', cert],
    ]);
    ({ port, servernames, served } = await httpServer((_path, socket) => socket.end(response('204 No Content')), {
      key: await readFile(key, 'utf8'),
      cert: await readFile(cert, 'utf8'),
    }));
    ({ port: dnsPort } = await dnsServer((query) => [replyTo(query, 0, [LOCALHOST])]));
  });
  const site = (host: string, insecure: boolean): HttpSite => {
    const url = `https://${host}:${port}/generate_204`;
    return { method: 'http', key: url, url, host, port, tls: true, insecure, server: LOCALHOST, expect: 204 };
  };

  it('a certificate that does not verify fails the probe; `insecure` accepts it; SNI is the host name', async () => {
    expect(await probeSite(site('check.test', false), PATH, { timeoutMs: 5000, dnsPort })).toEqual({
      answered: false,
      error: 'certificate not accepted (DEPTH_ZERO_SELF_SIGNED_CERT)',
    });
    expect(await probeSite(site('check.test', true), PATH, { timeoutMs: 5000, dnsPort })).toEqual({
      answered: true,
      rttMs: expect.any(Number),
    });
    expect(servernames.at(-1)).toBe('check.test');
    await Promise.all(served.map(({ closed }) => closed));
    expect(await timeWaits(port)).toBe('');
  });

  it('the name checked is the host of the URL; an address is sent without SNI', async () => {
    const byAddress = await probeSite(site(LOCALHOST, false), PATH, { timeoutMs: 5000, dnsPort });
    expect(byAddress.answered).toBe(false);
    expect(await probeSite(site(LOCALHOST, true), PATH, { timeoutMs: 5000 })).toMatchObject({ answered: true });
    expect(servernames.at(-1)).toBe(false);
  });
});
