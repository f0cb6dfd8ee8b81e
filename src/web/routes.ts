// The status page's routes (web_listen): its files and its JSON, all read-only. /api/status is
// `netgwm status --json`, /api/history is `netgwm history --json -n N`, /api/series the graphs'
// points (./series-document.ts).
import type { Config } from '../config/load.js';
import type { Series } from '../core/series.js';
import { DEFAULT_HISTORY_LINES } from '../report/cli.js';
import { readHistoryDocument } from '../report/history.js';
import { readStatus } from '../report/read-status.js';
import type { PageAsset } from './assets.js';
import { textReply, type Reply, type Route } from './http-server.js';
import { hasPath, parseSeriesQuery, seriesDocument } from './series-document.js';

/** Entries /api/history gives at most: a page shows the latest few. */
export const MAX_HISTORY_ENTRIES = 1000;

export interface WebSources {
  /** The config in force (read at each request, so a reload applies). */
  config: () => Config;
  /** The monitor's series, as the daemon keeps them. */
  series: () => Series;
  /** Milliseconds (wall clock). */
  now: () => number;
}

/** Not cached: each poll must see the state of now. */
const json = (status: number, document: unknown): Reply => ({
  status,
  type: 'application/json; charset=utf-8',
  body: `${JSON.stringify(document, null, 2)}\n`,
  headers: { 'cache-control': 'no-store' },
});
const apiError = (status: number, message: string): Reply => textReply(status, message, { 'cache-control': 'no-store' });

export function webRoutes(sources: WebSources, assets: ReadonlyMap<string, PageAsset>): Map<string, Route> {
  const routes = new Map<string, Route>();
  for (const [path, asset] of assets) routes.set(path, () => ({ status: 200, type: asset.type, body: asset.body }));
  routes.set('/api/status', async () => json(200, await readStatus(sources.config(), sources.now())));
  routes.set('/api/history', async ({ query }) => {
    const text = query.get('n');
    const count = text === null ? DEFAULT_HISTORY_LINES : Number(text);
    if (!Number.isInteger(count) || count < 1 || count > MAX_HISTORY_ENTRIES)
      return apiError(400, `n: expected a whole number from 1 to ${MAX_HISTORY_ENTRIES}, got ${JSON.stringify(text)}`);
    return json(200, await readHistoryDocument(sources.config(), count, sources.now()));
  });
  routes.set('/api/series', ({ query }) => {
    const parsed = parseSeriesQuery(query);
    if (typeof parsed === 'string') return apiError(400, parsed);
    if (!hasPath(sources.config(), parsed))
      return apiError(404, `no gateway ${JSON.stringify(parsed.gateway)} with IPv${parsed.family} in the config`);
    return json(200, seriesDocument(sources.series(), parsed, sources.now()));
  });
  return routes;
}
