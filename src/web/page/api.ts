// The daemon's read-only JSON (README "Status page"): same origin, nothing else is fetched.
import type { HistoryDocument } from '../../report/history.js';
import type { GatewayStatus, StatusDocument } from '../../report/status-document.js';

export type { GatewayStatus, HistoryDocument, StatusDocument };
export type HistoryEntry = HistoryDocument['entries'][number];
export type Range = '1h' | '24h' | '30d';

/** `/api/series`: one gateway's RTT and loss in buckets, oldest first (null: nothing in the bucket). */
export interface SeriesDocument {
  schema_version: 1;
  gateway: string;
  family: 4 | 6;
  range: Range;
  step_s: number;
  from: string;
  to: string;
  time: number[];
  rtt_ms: Array<number | null>;
  rtt_max_ms: Array<number | null>;
  loss_pct: Array<number | null>;
  sent: number[];
}

export async function getJson<T>(path: string): Promise<T> {
  const response = await fetch(path, { cache: 'no-store', headers: { accept: 'application/json' } });
  if (!response.ok) throw new Error(`${path}: ${response.status} ${(await response.text()).trim().slice(0, 200)}`);
  return (await response.json()) as T;
}

export const statusUrl = () => 'api/status';
export const historyUrl = (count: number) => `api/history?n=${count}`;
export const seriesUrl = (gateway: GatewayStatus, range: Range) =>
  `api/series?${new URLSearchParams({ gateway: gateway.name, family: String(gateway.family), range })}`;
