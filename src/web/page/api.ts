// The daemon's read-only JSON (README "Status page"): same origin, nothing else is fetched.
import type { HistoryDocument } from '../../report/history.js';
import type { GatewayStatus, StatusDocument } from '../../report/status-document.js';
import type { SeriesRange } from '../../core/series.js';
import type { SeriesDocument } from '../series-document.js';

export type { GatewayStatus, HistoryDocument, SeriesDocument, StatusDocument };
export type HistoryEntry = HistoryDocument['entries'][number];
export type Range = SeriesRange;

export async function getJson<T>(path: string): Promise<T> {
  const response = await fetch(path, { cache: 'no-store', headers: { accept: 'application/json' } });
  if (!response.ok) throw new Error(`${path}: ${response.status} ${(await response.text()).trim().slice(0, 200)}`);
  return (await response.json()) as T;
}

export const statusUrl = () => 'api/status';
export const historyUrl = (count: number) => `api/history?n=${count}`;
export const seriesUrl = (gateway: GatewayStatus, range: Range) =>
  `api/series?${new URLSearchParams({ gateway: gateway.name, family: String(gateway.family), range })}`;
