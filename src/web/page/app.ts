// The status page (README "Status page"): polls the daemon's read-only API — the status every
// 2 s, the graphs every 10 s, the history (the daemon reads its whole log for it) every minute;
// both at once when the decision changes (a switch, an outage starting or ending).
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
const HISTORY_EVERY_MS = 60_000;
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
/** The decision (decisionKey) the history was last read for, and when; when the graphs were drawn. */
let historyFor = '';
let historyAt = 0;
let graphedAt = 0;
/** The history as last read (its switches and outages mark the graphs), or why it could not be. */
let history: HistoryDocument['entries'] | Error = [];

const rowKey = (gateway: GatewayStatus) => `${gateway.name}/${gateway.family}`;
const decisionKey = (doc: StatusDocument) =>
  [doc, doc.ipv6].map((decision) => `${decision?.active}|${decision?.totals.switches}|${decision?.all_down_since}`).join('|');

async function pollStatus(): Promise<void> {
  try {
    const doc = await getJson<StatusDocument>(statusUrl());
    latest = doc;
    showStatus(doc);
    setConnection(`Updated ${clock(doc.generated_at)}`, false);
    const historyDue = decisionKey(doc) !== historyFor || Date.now() - historyAt >= HISTORY_EVERY_MS;
    if (historyDue) await refreshHistory(doc);
    if (historyDue || Date.now() - graphedAt >= GRAPHS_EVERY_MS) await refreshGraphs(doc);
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

async function refreshHistory(doc: StatusDocument): Promise<void> {
  historyFor = decisionKey(doc);
  historyAt = Date.now();
  const showFamily = doc.families.length > 1;
  history = await getJson<HistoryDocument>(historyUrl(HISTORY_FETCHED)).then(
    (read) => read.entries,
    (error: Error) => error,
  );
  const entries = history instanceof Error ? [] : history;
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
}

async function refreshGraphs(doc: StatusDocument): Promise<void> {
  graphedAt = Date.now();
  const showFamily = doc.families.length > 1;
  const entries = history instanceof Error ? [] : history;
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
