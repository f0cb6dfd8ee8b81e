// The daemon's HTTP servers (metrics_listen, web_listen): read-only routes, GET and HEAD only, no
// framework. Anyone who can reach the address can connect, so every server is bounded: a few
// connections at a time, each closed when idle or slow, small requests only, and no error of a
// client, a route or the listening socket ever reaches the daemon, whose cycles keep the file
// descriptors they need.
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { parseListen } from '../config/reports.js';
import type { Logger } from '../log/logger.js';

export interface HttpLimits {
  /** Connections open at once; more are closed as soon as they are accepted. */
  maxConnections: number;
  /** A connection that sends or receives nothing for this long is closed. */
  idleMs: number;
  /** The whole request (headers included) must have arrived within this time. */
  requestMs: number;
  /** How often the request deadline is checked. */
  checkIntervalMs: number;
}

/** A scraper or a page needs one connection and milliseconds; these leave room for a few and slow links. */
export const HTTP_LIMITS: HttpLimits = { maxConnections: 16, idleMs: 5000, requestMs: 5000, checkIntervalMs: 1000 };
/** Bytes of a request's headers: a browser's take a few hundred. */
const MAX_HEADER_BYTES = 8192;

/**
 * On every response: nothing but this origin's own files may load or be connected to, nothing may
 * frame the page, and the browser must believe the Content-Type (README "Status page").
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

export interface Request {
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
}

export interface Reply {
  status: number;
  /** The Content-Type. */
  type: string;
  body: string | Buffer;
  headers?: Record<string, string>;
}

export type Route = (request: Request) => Reply | Promise<Reply>;

export interface HttpServer {
  close(): Promise<void>;
}

export interface HttpServerOptions {
  /** `ADDR:PORT`, as the config key says it. */
  listen: string;
  /** The config key naming the address, for the log. */
  key: string;
  /** What it serves, for the log: `metrics`, `the status page`. */
  what: string;
  /** URL path → route. */
  routes: ReadonlyMap<string, Route>;
  /** The path the "serving … at URL" line shows. */
  home: string;
  log: Logger;
  limits?: HttpLimits;
}

export const textReply = (status: number, body: string, headers?: Record<string, string>): Reply => ({
  status,
  type: 'text/plain; charset=utf-8',
  body: body.endsWith('\n') ? body : `${body}\n`,
  ...(headers && { headers }),
});

/** Starts serving; an address that cannot be bound is logged, not fatal (undefined then). */
export async function startHttpServer(options: HttpServerOptions): Promise<HttpServer | undefined> {
  const { log, listen, what } = options;
  const address = parseListen(listen);
  if (!address) return undefined;
  const limits = options.limits ?? HTTP_LIMITS;
  const server = createServer(
    {
      headersTimeout: limits.requestMs,
      requestTimeout: limits.requestMs,
      keepAliveTimeout: limits.idleMs,
      connectionsCheckingInterval: limits.checkIntervalMs,
      maxHeaderSize: MAX_HEADER_BYTES,
    },
    (request, response) => {
      answer(request, options.routes).then(
        (reply) => send(request, response, reply),
        (error: unknown) => send(request, response, textReply(500, `netgwm could not answer: ${(error as Error).message}`)),
      );
    },
  );
  server.maxConnections = limits.maxConnections;
  server.setTimeout(limits.idleMs); // with no 'timeout' listener, an idle socket is destroyed
  const failed = await new Promise<Error | undefined>((resolve) => {
    server.once('error', resolve);
    server.listen({ host: address.host, port: address.port }, () => {
      server.off('error', resolve);
      resolve(undefined);
    });
  });
  if (failed) {
    log.event({ kind: 'http-listen-failed', what, address: listen, key: options.key, error: failed.message });
    return undefined;
  }
  // From now on an error is a connection that could not be accepted (EMFILE when descriptors run
  // out): that client is not served; the server and the daemon go on. Said once until one is.
  let refusing = false;
  server.on('error', (error) => {
    if (!refusing) log.event({ kind: 'http-accept-failed', what, address: listen, error: error.message });
    refusing = true;
  });
  server.on('connection', () => (refusing = false));
  log.event({ kind: 'http-listening', what, url: `http://${listen}${options.home}` });
  return { close: () => closeServer(server) };
}

async function answer(request: IncomingMessage, routes: ReadonlyMap<string, Route>): Promise<Reply> {
  if (request.method !== 'GET' && request.method !== 'HEAD')
    return textReply(405, `netgwm answers only GET and HEAD, not ${request.method}`, { allow: 'GET, HEAD' });
  // A request with a body is not one of ours; not reading it would leave it in the connection.
  if (request.headers['transfer-encoding'] !== undefined || Number(request.headers['content-length'] ?? 0) > 0)
    return textReply(413, 'netgwm takes no request body', { connection: 'close' });
  let url: URL;
  try {
    url = new URL(request.url ?? '/', 'http://netgwm');
  } catch {
    return textReply(400, 'netgwm could not read the request URL');
  }
  const route = routes.get(url.pathname);
  if (!route) return textReply(404, `netgwm has nothing at ${url.pathname}; it serves ${[...routes.keys()].join(', ')}`);
  return route({ path: url.pathname, query: url.searchParams, headers: request.headers });
}

function send(request: IncomingMessage, response: ServerResponse, reply: Reply): void {
  if (response.headersSent || response.destroyed) return;
  const body = typeof reply.body === 'string' ? Buffer.from(reply.body) : reply.body;
  response.writeHead(reply.status, {
    ...SECURITY_HEADERS,
    'content-type': reply.type,
    'content-length': String(body.length),
    ...reply.headers,
  });
  response.end(request.method === 'HEAD' ? undefined : body);
}

function closeServer(server: Server): Promise<void> {
  return new Promise((done) => {
    server.close(() => done());
    server.closeAllConnections(); // a scraper's keep-alive connection must not hold the stop up
  });
}
