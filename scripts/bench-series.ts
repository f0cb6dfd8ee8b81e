// `npm run bench:series`: the status page's series (README "Status page") for 5 gateways × 2
// families after a day and more of rounds at the default rate: the file's size, how long the
// daemon's event loop is busy encoding it (every minute) and decoding it (at start), and building
// /api/series' points of each range. Prints figures (medians of BENCH_REPEAT runs, default 9);
// asserts nothing.
import { recordEvent, seriesPoints, type Series, type SeriesRange } from '../src/core/series.js';
import { decodeSeries, encodeSeries } from '../src/state/series-format.js';

const REPEAT = Number(process.env.BENCH_REPEAT ?? 9);
const T0 = Date.UTC(2026, 11, 1);
const ROUND_MS = 150;
const HOURS = 25;

function filledSeries(): Series {
  const series: Series = new Map();
  for (let gateway = 1; gateway <= 5; gateway++) {
    for (const key of [`isp${gateway}`, `isp${gateway}/6`]) {
      for (let at = T0; at < T0 + HOURS * 3_600_000; at += ROUND_MS) {
        const rtt = 10 + ((at / ROUND_MS) % 17);
        recordEvent(series, {
          kind: 'round',
          gateway: key,
          at,
          settledAt: at,
          echoes: [
            { site: 'a', answered: true, rttMs: rtt },
            { site: 'b', answered: at % 7 !== 0, rttMs: rtt },
          ],
        });
      }
    }
  }
  return series;
}

function median(work: () => void): number {
  const times = Array.from({ length: REPEAT }, () => {
    const started = performance.now();
    work();
    return performance.now() - started;
  }).sort((a, b) => a - b);
  return times[Math.floor(REPEAT / 2)]!;
}

const series = filledSeries();
const bytes = encodeSeries(series);
console.log(
  `10 paths: ${bytes.length} bytes (${(bytes.length / 2 ** 20).toFixed(2)} MiB), ${bytes.indexOf(10) + 1} of them the header line`,
);
console.log(`encode (every minute): ${median(() => encodeSeries(series)).toFixed(1)} ms`);
console.log(`decode (at start):     ${median(() => decodeSeries(bytes)).toFixed(1)} ms`);
for (const range of ['1h', '24h', '30d'] as SeriesRange[]) {
  const now = T0 + HOURS * 3_600_000;
  console.log(`points of ${range.padEnd(3)} (one path):  ${median(() => seriesPoints(series.get('isp1'), range, now)).toFixed(2)} ms`);
}
