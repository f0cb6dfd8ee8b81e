// One chart per gateway (and family): mean and max RTT on the left axis, loss as bars on the right,
// switches and all-down outages marked on the time axis. The markers are elements over the plot,
// so they carry words (`→ isp2`, a title) and not only a colour.
import uPlot from 'uplot';
import type { HistoryEntry, SeriesDocument } from './api.js';
import { LOSS_COLOUR, LOSS_FILL, RTT_COLOUR, RTT_MAX_COLOUR, rgb } from './colours.js';
import { clock, h } from './dom.js';

const HEIGHT = 170;
/** Room a switch's label takes beside its line. */
const LABEL_PX = 60;

/** What the time axis marks: switches of this chart's family, and outages while all were down. */
export interface Markers {
  switches: Array<{ at: number; to: string; title: string }>;
  outages: Array<{ from: number; to: number; title: string }>;
}

const seconds = (isoTime: string) => Date.parse(isoTime) / 1000;

export function markersOf(entries: HistoryEntry[], family: 4 | 6, now: number): Markers {
  const ofFamily = entries.filter((entry) => entry.family === family);
  return {
    switches: ofFamily.flatMap((entry) =>
      entry.kind === 'switch'
        ? [
            {
              at: seconds(entry.at),
              to: entry.to,
              title: `${clock(entry.at)} switch ${entry.from ?? 'none'} → ${entry.to}: ${entry.reason}`,
            },
          ]
        : [],
    ),
    outages: ofFamily.flatMap((entry) =>
      entry.kind === 'outage'
        ? [{ from: seconds(entry.at), to: entry.until ? seconds(entry.until) : now, title: `${clock(entry.at)} all gateways down` }]
        : [],
    ),
  };
}

export class GatewayChart {
  readonly element: HTMLElement;
  private readonly body: HTMLElement;
  private plot: uPlot | undefined;
  private markers: Markers = { switches: [], outages: [] };
  /** The time axis' span (unix seconds): the latest document's, read at every redraw. */
  private span: [number, number] = [0, 0];

  constructor(caption: string) {
    this.body = h('div', 'chart-body');
    const note = h('span', 'no-data-note', ' · no probe in this range (never probed, or the daemon was not running)');
    this.element = h('figure', 'chart card', h('figcaption', '', caption, note), this.body);
  }

  show(series: SeriesDocument, markers: Markers): void {
    this.markers = markers;
    this.span = shownSpan(series);
    this.element.dataset.range = series.range;
    this.element.dataset.points = String(series.rtt_ms.filter((value) => value !== null).length);
    this.element.classList.toggle(
      'no-data',
      series.sent.every((sent) => sent === 0),
    );
    const data: uPlot.AlignedData = [series.time, series.rtt_ms, series.rtt_max_ms, series.loss_pct];
    if (this.plot) this.plot.setData(data);
    else {
      this.body.replaceChildren();
      this.plot = new uPlot(this.options(this.width()), data, this.body);
    }
  }

  showProblem(message: string): void {
    this.plot?.destroy();
    this.plot = undefined;
    this.body.replaceChildren(h('p', 'chart-problem', `No graph: ${message}`));
  }

  resize(): void {
    this.plot?.setSize({ width: this.width(), height: HEIGHT });
  }

  private width(): number {
    return Math.max(240, this.body.clientWidth);
  }

  private options(width: number): uPlot.Options {
    const unit = (suffix: string) => (_: uPlot, splits: number[]) => splits.map((value) => `${value}${suffix}`);
    const shown = (suffix: string) => (_: uPlot, value: number | null) => (value === null ? '–' : `${value.toFixed(1)}${suffix}`);
    return {
      width,
      height: HEIGHT,
      // Room above the top tick labels (100 %).
      padding: [14, 8, 0, 0],
      cursor: { drag: { x: false, y: false } },
      scales: {
        x: { time: true, range: () => this.span },
        rtt: { range: (_, __, max) => [0, Math.max(10, (max ?? 0) * 1.15)] },
        loss: { range: [0, 100] },
      },
      series: [
        { value: (_, value) => (value === null ? '–' : clock(new Date(value * 1000).toISOString())) },
        { label: 'RTT', scale: 'rtt', stroke: rgb(RTT_COLOUR), width: 2, value: shown(' ms') },
        { label: 'max RTT', scale: 'rtt', stroke: RTT_MAX_COLOUR, width: 1, dash: [4, 3], value: shown(' ms') },
        {
          label: 'loss',
          scale: 'loss',
          stroke: LOSS_COLOUR,
          fill: LOSS_FILL,
          paths: uPlot.paths.bars!({ size: [1, Number.POSITIVE_INFINITY], gap: 0 }),
          points: { show: false },
          value: shown(' %'),
        },
      ],
      legend: { live: false },
      axes: [
        { values: timeLabels },
        { scale: 'rtt', values: unit(' ms'), size: 58 },
        { scale: 'loss', side: 1, values: unit(' %'), grid: { show: false }, size: 48 },
      ],
      hooks: { draw: [(plot) => this.placeMarkers(plot)] },
    };
  }

  private placeMarkers(plot: uPlot): void {
    const { min = 0, max = 0 } = plot.scales.x ?? {};
    const x = (at: number) => plot.valToPos(Math.min(max, Math.max(min, at)), 'x');
    const outages = this.markers.outages
      .filter((outage) => outage.to >= min && outage.from <= max)
      .map((outage) => marker('marker marker-outage', outage.title, x(outage.from), Math.max(2, x(outage.to) - x(outage.from))));
    // Newest first: a label that would overlap a newer one is left out (its line and title stay).
    let labelledAt = Number.POSITIVE_INFINITY;
    const switches = this.markers.switches
      .filter((entry) => entry.at >= min && entry.at <= max)
      .reverse()
      .map((entry) => {
        const left = x(entry.at);
        const labelled = labelledAt - left >= LABEL_PX;
        if (labelled) labelledAt = left;
        // A label near the right edge goes on the line's left, inside the plot.
        const side = left > plot.over.clientWidth - LABEL_PX ? ' marker-label-left' : '';
        return marker(`marker marker-switch${side}`, entry.title, left, 0, labelled ? `→ ${entry.to}` : undefined);
      });
    let layer = plot.over.querySelector<HTMLElement>('.markers');
    if (!layer) {
      layer = h('div', 'markers');
      plot.over.append(layer);
    }
    layer.replaceChildren(...outages, ...switches);
    this.element.dataset.switches = String(switches.length);
    this.element.dataset.outages = String(outages.length);
  }
}

function marker(className: string, title: string, left: number, width: number, label?: string): HTMLElement {
  const element = h('div', className, label ? h('span', 'marker-label', label) : null);
  element.title = title;
  // CSSOM, which the page's Content-Security-Policy allows (a style attribute it would not).
  element.style.left = `${left}px`;
  if (width > 0) element.style.width = `${width}px`;
  return element;
}

/** Buckets the time axis shows at least, however little data there is. */
const MIN_BUCKETS = 6;

/**
 * The range's span, or from its first probed bucket when the data starts later (a new daemon, a
 * new gateway), so that a few minutes of data are not a sliver at the right edge.
 */
function shownSpan(series: SeriesDocument): [number, number] {
  const [from, to] = [seconds(series.from), seconds(series.to)];
  const first = series.sent.findIndex((sent) => sent > 0);
  if (first < 0) return [from, to];
  return [Math.max(from, Math.min(series.time[first]!, to - MIN_BUCKETS * series.step_s)), to];
}

/** 24-hour times (with seconds for ticks less than a minute apart), the day for ticks a day or more apart. */
function timeLabels(_: uPlot, splits: number[], __: number, ___: number, increment: number): string[] {
  const pad = (n: number) => String(n).padStart(2, '0');
  return splits.map((split) => {
    const at = new Date(split * 1000);
    const day = `${pad(at.getMonth() + 1)}-${pad(at.getDate())}`;
    const minute = `${pad(at.getHours())}:${pad(at.getMinutes())}`;
    return increment >= 86_400 ? day : increment >= 60 ? minute : `${minute}:${pad(at.getSeconds())}`;
  });
}
