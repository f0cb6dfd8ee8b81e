// The daemon's http://ADDR:PORT/metrics (metrics_listen): the same text as metrics_file, rendered
// from the state file at each scrape, so it is as fresh as the last cycle, whoever ran it.
import { createServer, type Server } from 'node:http';
import type { Config } from '../config/load.js';
import { parseListen } from '../config/reports.js';
import type { Logger } from '../log/logger.js';
import { renderMetrics } from './metrics.js';
import { readStatus } from './read-status.js';

export interface MetricsServer {
  close(): Promise<void>;
}

/** Starts serving when the config has metrics_listen; a port that cannot be bound is logged, not fatal. */
export async function startMetricsServer(config: () => Config, log: Logger): Promise<MetricsServer | undefined> {
  const text = config().metrics_listen;
  const address = text === undefined ? undefined : parseListen(text);
  if (!text || !address) return undefined;
  const server = createServer((request, response) => {
    if (request.method !== 'GET' || request.url?.split('?')[0] !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('netgwm serves only GET /metrics\n');
      return;
    }
    readStatus(config(), Date.now())
      .then(renderMetrics)
      .then(
        (body) => response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(body),
        (error: unknown) => response.writeHead(500, { 'content-type': 'text/plain' }).end(`netgwm could not render its metrics: ${(error as Error).message}\n`),
      );
  });
  const listening = await new Promise<boolean>((resolve) => {
    server.once('error', (error) => {
      log.event({ kind: 'metrics-listen-failed', address: text, error: error.message });
      resolve(false);
    });
    server.listen({ host: address.host, port: address.port }, () => resolve(true));
  });
  if (!listening) return undefined;
  log.event({ kind: 'metrics-listening', url: `http://${text}/metrics` });
  return { close: () => closeServer(server) };
}

function closeServer(server: Server): Promise<void> {
  return new Promise((done) => {
    server.close(() => done());
    server.closeAllConnections(); // a scraper's keep-alive connection must not hold the stop up
  });
}
