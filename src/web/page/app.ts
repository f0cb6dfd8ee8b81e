// The status page (README "Status page"): polls the daemon's read-only API — the status every
// 2 s, the graphs and the history every 10 s or as soon as the active gateway changes.
import {
  getJson,
  historyUrl,
  seriesUrl,
  statusUrl,
  type GatewayStatus,
  type HistoryDocument,
  type Range,
  type SeriesDocument,
  type StatusDocument,
} from './api.js';
import { GatewayChart, markersOf } from './charts.js';
import { byId, clock, h } from './dom.js';
import { historyItem } from './history-view.js';
import { gatewayCard, summaryView } from './status-view.js';

const STATUS_EVERY_MS = 2_000;
const GRAPHS_EVERY_MS = 10_000;
/** Enough entries to mark a day of switches on the graphs; the list shows the newest few. */
const HISTORY_FETCHED = 200;
const HISTORY_SHOWN = 12;
const RANGES: Array<[Range, string]> = [
  ['1h', '1 h'],
  ['24h', '24 h'],
  ['30d', '30 d'],
];

const charts = new Map<string, GatewayChart>();
let range: Range = '1h';
let latest: StatusDocument | undefined;
/** The active gateways and the switch count the graphs were last drawn for. */
let graphedFor = '';
let graphedAt = 0;

const rowKey = (gateway: GatewayStatus) => `${gateway.name}/${gateway.family}`;
const decisionKey = (doc: StatusDocument) => `${doc.active}|${doc.ipv6?.active}|${doc.totals.switches}|${doc.ipv6?.totals.switches}`;

async function pollStatus(): Promise<void> {
  try {
    const doc = await getJson<StatusDocument>(statusUrl());
    latest = doc;
    showStatus(doc);
    setConnection(`Updated ${clock(doc.generated_at)}`, false);
    if (decisionKey(doc) !== graphedFor || Date.now() - graphedAt >= GRAPHS_EVERY_MS) await refreshGraphs(doc);
  } catch (error) {
    setConnection(`⚠ Cannot reach netgwm (${(error as Error).message}); trying again`, true);
  } finally {
    setTimeout(pollStatus, STATUS_EVERY_MS);
  }
}

function showStatus(doc: StatusDocument): void {
  const showFamily = doc.families.length > 1;
  byId('summary').replaceChildren(...summaryView(doc));
  byId('gateways').replaceChildren(...doc.gateways.map((gateway) => gatewayCard(gateway, showFamily)));
  document.body.dataset.active = doc.active ?? '';
  document.title = `netgwm: ${doc.active ?? 'no active gateway'}`;
}

async function refreshGraphs(doc: StatusDocument): Promise<void> {
  graphedFor = decisionKey(doc);
  graphedAt = Date.now();
  const showFamily = doc.families.length > 1;
  const history = await getJson<HistoryDocument>(historyUrl(HISTORY_FETCHED)).catch((error: Error) => error);
  const entries = history instanceof Error ? [] : history.entries;
  byId('history').replaceChildren(
    ...(history instanceof Error
      ? [h('li', 'event alert', `⚠ No history: ${history.message}`)]
      : entries.length === 0
        ? [h('li', 'event', 'No switch or outage recorded yet.')]
        : entries
            .slice(-HISTORY_SHOWN)
            .reverse()
            .map((entry) => historyItem(entry, showFamily))),
  );
  const container = byId('charts');
  const wanted = doc.gateways.map((gateway) => {
    const key = rowKey(gateway);
    let chart = charts.get(key);
    if (!chart) {
      chart = new GatewayChart(showFamily ? `${gateway.name} IPv${gateway.family}` : gateway.name);
      chart.element.dataset.gateway = key;
      charts.set(key, chart);
    }
    return { gateway, chart };
  });
  for (const key of charts.keys()) if (!wanted.some(({ gateway }) => rowKey(gateway) === key)) charts.delete(key);
  container.replaceChildren(...wanted.map(({ chart }) => chart.element));
  const now = Date.now() / 1000;
  await Promise.all(
    wanted.map(async ({ gateway, chart }) => {
      try {
        chart.show(await getJson<SeriesDocument>(seriesUrl(gateway, range)), markersOf(entries, gateway.family, now));
      } catch (error) {
        chart.showProblem((error as Error).message);
      }
    }),
  );
}

function setConnection(text: string, problem: boolean): void {
  const element = byId('connection');
  element.textContent = text;
  element.classList.toggle('alert', problem);
}

function rangeButtons(): HTMLElement[] {
  const buttons = RANGES.map(([value, label]) => {
    const button = h('button', 'range', label);
    button.type = 'button';
    button.dataset.range = value;
    button.setAttribute('aria-pressed', String(value === range));
    button.addEventListener('click', () => {
      range = value;
      for (const other of buttons) other.setAttribute('aria-pressed', String(other === button));
      if (latest) void refreshGraphs(latest);
    });
    return button;
  });
  return buttons;
}

function start(): void {
  byId('ranges').replaceChildren(...rangeButtons());
  new ResizeObserver(() => {
    for (const chart of charts.values()) chart.resize();
  }).observe(byId('charts'));
  void pollStatus();
}

start();
