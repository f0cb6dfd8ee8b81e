// The daemon's http://ADDR:PORT/metrics (metrics_listen): the same text as metrics_file, rendered
// from the state file at each scrape, so it is as fresh as the last cycle, whoever ran it.
// Anyone on the host can connect, so the server is bounded: a few connections at a time, each
// closed when idle or slow, and no error of a client or of the listening socket ever reaches the
// daemon. Its cycles keep the file descriptors they need.
import { createServer, type Server } from 'node:http';
import type { Config } from '../config/load.js';
import { parseListen } from '../config/reports.js';
import type { Logger } from '../log/logger.js';
import { renderMetrics } from './metrics.js';
import { readStatus } from './read-status.js';
import { gatewayConnections } from './publish.js';
import type { Exec } from '../system/exec.js';

export interface MetricsServer {
  close(): Promise<void>;
}

export interface MetricsLimits {
  /** Connections open at once; more are closed as soon as they are accepted. */
  maxConnections: number;
  /** A connection that sends or receives nothing for this long is closed. */
  idleMs: number;
  /** The whole request (headers included) must have arrived within this time. */
  requestMs: number;
  /** How often the request deadline is checked. */
  checkIntervalMs: number;
}

/** A scraper needs one connection and milliseconds; these leave room for a few and slow links. */
const METRICS_LIMITS: MetricsLimits = { maxConnections: 16, idleMs: 5000, requestMs: 5000, checkIntervalMs: 1000 };

/** Starts serving when the config has metrics_listen; a port that cannot be bound is logged, not fatal. */
export async function startMetricsServer(
  config: () => Config,
  log: Logger,
  limits: MetricsLimits = METRICS_LIMITS,
  /** Counts the connections per mark at each scrape (netgwm_gateway_connections); absent: not counted. */
  exec?: Exec,
): Promise<MetricsServer | undefined> {
  const text = config().metrics_listen;
  const address = text === undefined ? undefined : parseListen(text);
  if (!text || !address) return undefined;
  const server = createServer(
    {
      headersTimeout: limits.requestMs,
      requestTimeout: limits.requestMs,
      keepAliveTimeout: limits.idleMs,
      connectionsCheckingInterval: limits.checkIntervalMs,
    },
    (request, response) => {
      if (request.method !== 'GET' || request.url?.split('?')[0] !== '/metrics') {
        response.writeHead(404, { 'content-type': 'text/plain' }).end('netgwm serves only GET /metrics\n');
        return;
      }
      Promise.all([readStatus(config(), Date.now()), gatewayConnections(config(), exec)])
        .then(([doc, connections]) => renderMetrics(doc, connections))
        .then(
          (body) => response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(body),
          (error: unknown) =>
            response
              .writeHead(500, { 'content-type': 'text/plain' })
              .end(`netgwm could not render its metrics: ${(error as Error).message}\n`),
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
    log.event({ kind: 'metrics-listen-failed', address: text, error: failed.message });
    return undefined;
  }
  // From now on an error is a connection that could not be accepted (EMFILE when descriptors run
  // out): that client is not served; the server and the daemon go on. Said once until one is.
  let refusing = false;
  server.on('error', (error) => {
    if (!refusing) log.event({ kind: 'metrics-accept-failed', address: text, error: error.message });
    refusing = true;
  });
  server.on('connection', () => (refusing = false));
  log.event({ kind: 'metrics-listening', url: `http://${text}/metrics` });
  return { close: () => closeServer(server) };
}

function closeServer(server: Server): Promise<void> {
  return new Promise((done) => {
    server.close(() => done());
    server.closeAllConnections(); // a scraper's keep-alive connection must not hold the stop up
  });
}
