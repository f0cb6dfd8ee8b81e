// The daemon's http://ADDR:PORT/metrics (metrics_listen): the same text as metrics_file, rendered
// from the state file at each scrape, so it is as fresh as the last cycle, whoever ran it. Served
// by the bounded HTTP server of src/web/http-server.ts, alone or with the status page.
import type { Config } from '../config/load.js';
import type { Logger } from '../log/logger.js';
import type { Exec } from '../system/exec.js';
import { startHttpServer, textReply, type HttpLimits, type HttpServer, type Route } from '../web/http-server.js';
import { renderMetrics } from './metrics.js';
import { gatewayConnections } from './publish.js';
import { readStatus } from './read-status.js';

export type MetricsServer = HttpServer;
export type MetricsLimits = HttpLimits;
export const METRICS_PATH = '/metrics';

/**
 * GET /metrics, read from the config at each scrape, so a reload applies. With `exec`, counts the
 * connections per mark (netgwm_gateway_connections); without, they are not counted.
 */
export function metricsRoute(config: () => Config, exec?: Exec): Route {
  return () =>
    Promise.all([readStatus(config(), Date.now()), gatewayConnections(config(), exec)])
      .then(([doc, connections]) => renderMetrics(doc, connections))
      .then(
        (body) => ({ status: 200, type: 'text/plain; version=0.0.4; charset=utf-8', body }),
        (error: unknown) => textReply(500, `netgwm could not render its metrics: ${(error as Error).message}`),
      );
}

/** Serves /metrics alone at metrics_listen, if set; a port that cannot be bound is logged, not fatal. */
export async function startMetricsServer(
  config: () => Config,
  log: Logger,
  limits?: MetricsLimits,
  exec?: Exec,
): Promise<MetricsServer | undefined> {
  const listen = config().metrics_listen;
  if (!listen) return undefined;
  const routes = new Map([[METRICS_PATH, metricsRoute(config, exec)]]);
  return startHttpServer({ listen, key: 'metrics_listen', what: 'metrics', routes, home: METRICS_PATH, log, ...(limits && { limits }) });
}
