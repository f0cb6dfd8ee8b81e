// GET /api/series?gateway=NAME&family=4|6&range=1h|24h|30d: a path's RTT and loss over the range,
// one point per step, as the schema rules of `status --json` say (schema_version, snake_case,
// units in names, ISO times in scalar fields; the arrays' times are unix seconds for the charts).
import type { Config } from '../config/load.js';
import { familyView, pathKey, type Family } from '../config/families.js';
import { RANGES, seriesPoints, type Series, type SeriesRange } from '../core/series.js';
import { iso } from '../report/json-units.js';

export const SERIES_SCHEMA_VERSION = 1;

export interface SeriesQuery {
  gateway: string;
  family: Family;
  range: SeriesRange;
}

/** The query's parameters, or what is wrong with them (a 400). `family` may be left out: 4. */
export function parseSeriesQuery(query: URLSearchParams): SeriesQuery | string {
  const gateway = query.get('gateway');
  const family = query.get('family') ?? '4';
  const range = query.get('range');
  if (!gateway) return 'gateway: missing; expected the name of a configured gateway, e.g. ?gateway=isp1&range=1h';
  if (family !== '4' && family !== '6') return `family: expected 4 or 6, got ${JSON.stringify(family)}`;
  if (range === null || !Object.hasOwn(RANGES, range))
    return `range: expected one of ${Object.keys(RANGES).join(', ')}, got ${range === null ? 'nothing' : JSON.stringify(range)}`;
  return { gateway, family: family === '6' ? 6 : 4, range: range as SeriesRange };
}

/** Whether the config has the gateway in that family (else a 404). */
export function hasPath(config: Config, query: SeriesQuery): boolean {
  return config.families.includes(query.family) && familyView(config, query.family).gateways.some((g) => g.name === query.gateway);
}

export function seriesDocument(series: Series, query: SeriesQuery, now: number) {
  const points = seriesPoints(series.get(pathKey(query.gateway, query.family)), query.range, now);
  return {
    schema_version: SERIES_SCHEMA_VERSION,
    generated_at: iso(now),
    gateway: query.gateway,
    family: query.family,
    range: query.range,
    step_s: points.stepS,
    /** The first point's start and the last point's end (the last point is still filling). */
    from: iso(points.time[0]! * 1000),
    to: iso((points.time.at(-1)! + points.stepS) * 1000),
    time: points.time,
    rtt_ms: points.rttMs,
    rtt_max_ms: points.rttMaxMs,
    loss_pct: points.lossPct,
    sent: points.sent,
  };
}

export type SeriesDocument = ReturnType<typeof seriesDocument>;
