// The daemon's HTTP servers: /metrics at metrics_listen, the status page at web_listen; one server
// for both when the two name the same address (README "Status page"), each bounded on its own
// otherwise. A page on a non-loopback address asks for a user and password; /metrics on it stays
// as metrics_allow_remote made it (a scraper needs none).
import type { Config } from '../config/load.js';
import { isRemote, sameListen } from '../config/reports.js';
import type { Logger } from '../log/logger.js';
import { METRICS_PATH, metricsRoute, startMetricsServer } from '../report/metrics-server.js';
import type { Exec } from '../system/exec.js';
import { loadPageAssets, type PageAsset } from './assets.js';
import { basicAuth } from './auth.js';
import { startHttpServer, type HttpLimits, type HttpServer, type Route } from './http-server.js';
import { webRoutes, type WebSources } from './routes.js';

export interface ServersOptions extends Omit<WebSources, 'config'> {
  log: Logger;
  /** Counts connections per mark for /metrics. */
  exec?: Exec;
  limits?: HttpLimits;
}

/** Starts what the config asks for (a changed address needs a restart); closing stops them all. */
export async function startServers(config: () => Config, options: ServersOptions): Promise<HttpServer> {
  const { log } = options;
  const { metrics_listen: metrics, web_listen: web } = config();
  const pageRoutes = web ? guardRoutes(webRoutes({ ...options, config }, await pageAssets(log)), isRemote(web), config, log) : undefined;
  // One server for both when they name the same address; /metrics alone otherwise (if set).
  const shared = pageRoutes !== undefined && metrics !== undefined && sameListen(metrics, web);
  const started = [shared ? undefined : startMetricsServer(config, log, options.limits, options.exec)];
  if (pageRoutes) {
    const routes = shared ? new Map([...pageRoutes, [METRICS_PATH, metricsRoute(config, options.exec)]]) : pageRoutes;
    const what = shared ? 'metrics and the status page' : 'the status page';
    const limits = options.limits && { limits: options.limits };
    started.push(startHttpServer({ listen: web!, key: 'web_listen', what, routes, home: '/', log, ...limits }));
  }
  const servers = await Promise.all(started);
  return { close: async () => void (await Promise.all(servers.map((server) => server?.close()))) };
}

/** The page's files; none (the JSON still served) when they cannot be read: a broken install must not stop the daemon. */
async function pageAssets(log: Logger): Promise<ReadonlyMap<string, PageAsset>> {
  try {
    return await loadPageAssets();
  } catch (error) {
    log.event({ kind: 'web-page-missing', error: (error as Error).message });
    return new Map();
  }
}

/** Every route behind basic auth when the page is remote; as they are when it is loopback only. */
export function guardRoutes(routes: Map<string, Route>, remote: boolean, config: () => Config, log: Logger): Map<string, Route> {
  if (!remote) return routes;
  const authorize = basicAuth({ file: () => config().web_password_file, log });
  return new Map(
    [...routes].map(([path, route]): [string, Route] => [
      path,
      async (request) => (await authorize(request.headers.authorization)) ?? route(request),
    ]),
  );
}
