// The daemon's HTTP servers: /metrics at metrics_listen, the status page at web_listen; one server
// for both when the two name the same address (README "Status page"), each bounded on its own
// otherwise. A page on a non-loopback address asks for a user and password; /metrics on it stays
// as metrics_allow_remote made it (a scraper needs none).
import type { Config } from '../config/load.js';
import { isRemote, sameListen } from '../config/reports.js';
import type { Logger } from '../log/logger.js';
import { METRICS_PATH, metricsRoute } from '../report/metrics-server.js';
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
  const metricsRoutes = new Map<string, Route>(metrics ? [[METRICS_PATH, metricsRoute(config, options.exec)]] : []);
  const pageRoutes = web ? guardRoutes(webRoutes({ ...options, config }, await pageAssets(log)), isRemote(web), config, log) : undefined;
  const limits = options.limits && { limits: options.limits };
  const started: Array<Promise<HttpServer | undefined>> = [];
  if (metrics && pageRoutes && sameListen(metrics, web)) {
    const routes = new Map([...pageRoutes, ...metricsRoutes]);
    started.push(
      startHttpServer({ listen: web!, key: 'web_listen', what: 'metrics and the status page', routes, home: '/', log, ...limits }),
    );
  } else {
    if (metrics)
      started.push(
        startHttpServer({
          listen: metrics,
          key: 'metrics_listen',
          what: 'metrics',
          routes: metricsRoutes,
          home: METRICS_PATH,
          log,
          ...limits,
        }),
      );
    if (pageRoutes)
      started.push(
        startHttpServer({ listen: web!, key: 'web_listen', what: 'the status page', routes: pageRoutes, home: '/', log, ...limits }),
      );
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
