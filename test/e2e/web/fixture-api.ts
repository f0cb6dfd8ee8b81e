// A stand-in for the daemon's web server: the built page (loadPageAssets) and the API's documents
// built by the daemon's own code from a state, history and series the test makes and changes.
// For the page's own tests, on loopback.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { recordEvent, type Series, type SeriesRange } from '../../../src/core/series.js';
import type { State } from '../../../src/core/types.js';
import { historyDocument, type HistoryEntry } from '../../../src/report/history.js';
import { statusDocument } from '../../../src/report/status-document.js';
import { loadPageAssets } from '../../../src/web/assets.js';
import { SECURITY_HEADERS } from '../../../src/web/http-server.js';
import { seriesDocument } from '../../../src/web/series-document.js';

const GATEWAYS = [
  { name: 'isp1', ip: '192.0.2.1', dev: 'eth1', priority: 1 },
  { name: 'isp2', ip: '198.51.100.1', dev: 'eth2', priority: 2 },
  { name: 'lte', dev: 'ppp0', priority: 3 },
];
/** The dual-stack gateways' IPv6 view (withIpv6). */
const GATEWAYS6 = [
  { name: 'isp1', ip: '2001:db8:1::1', dev: 'eth1', priority: 1 },
  { name: 'isp2', ip: '2001:db8:2::1', dev: 'eth2', priority: 2 },
];
/** Rounds of the made-up series: every 10 s in the last hour, every minute before, for a day. */
const DAY_MS = 86_400_000;

export class FixtureApi {
  private readonly now = Date.now();
  private readonly minutesAgo = (minutes: number) => this.now - minutes * 60_000;
  /** isp1 active and stable; isp2 up, not yet stable; lte never probed. An outage 40 min ago. */
  readonly state: State = {
    version: 1,
    lastCycleAt: this.now,
    active: 'isp1',
    gateways: {
      isp1: { up: true, since: this.minutesAgo(120), checkedAt: this.now, reason: 'up: 2/2 sites answered' },
      isp2: { up: true, since: this.minutesAgo(5), checkedAt: this.now, reason: 'degraded: loss 12 % > 10 % over 30 s', degraded: true },
    },
    resolved: {},
    samples: {
      isp1: [{ at: this.now, site: '203.0.113.10', sent: 2, replies: 2, rttMs: 11.7 }],
      isp2: [{ at: this.now, site: '203.0.113.10', sent: 2, replies: 1, rttMs: 31.2 }],
    },
  };
  readonly history: HistoryEntry[] = [
    { kind: 'outage', at: this.minutesAgo(40), until: this.minutesAgo(39), current: 'isp1', source: 'netgwm.log' },
  ];
  /** The IPv6 decision's state, once withIpv6() made the network dual-stack. */
  private ipv6: State | undefined;
  /** isp1 and isp2 probed for a day (isp2 slower, isp1 lossy now and then), lte never. */
  readonly series: Series = new Map();
  /** Every request's path, in order. */
  readonly served: string[] = [];
  /** The stand-in daemon's latest round, and whether isp1 answers (until the failover). */
  private probedUntil = this.now;
  private isp1Answers = true;

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {
    for (let at = this.now - DAY_MS; at <= this.now; at += at < this.now - 3_600_000 ? 60_000 : 10_000) this.probe(at, true);
  }

  static async start(): Promise<FixtureApi> {
    const assets = await loadPageAssets();
    let api: FixtureApi | undefined;
    const server = createServer((request, response) => {
      const url = new URL(request.url ?? '/', 'http://page.test');
      api!.served.push(url.pathname + url.search);
      const asset = assets.get(url.pathname);
      const json = asset ? undefined : api!.document(url);
      const [status, type, body] = asset
        ? [200, asset.type, asset.body]
        : json
          ? [200, 'application/json; charset=utf-8', JSON.stringify(json)]
          : [404, 'text/plain; charset=utf-8', 'not found'];
      response.writeHead(status, { 'content-type': type, ...SECURITY_HEADERS });
      response.end(body);
    });
    await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
    api = new FixtureApi(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    return api;
  }

  /** What the daemon's failover from isp1 to isp2 leaves: isp1 down, isp2 active, a switch in the history. */
  failOver(): void {
    const at = Date.now();
    this.state.gateways.isp1 = { up: false, since: at, checkedAt: at, reason: 'down: 0/2 sites answered' };
    this.state.active = 'isp2';
    this.state.lastSwitch = { at, from: 'isp1', to: 'isp2', reason: 'isp1 down: 0/2 sites answered' };
    this.state.totals = { switches: 1, hookFailures: 0 };
    this.history.push({ kind: 'switch', at, from: 'isp1', to: 'isp2', reason: 'isp1 down: 0/2 sites answered', source: 'netgwm.log' });
    this.isp1Answers = false;
    this.probe(at, false);
    this.probedUntil = at;
  }

  /**
   * Rounds every 10 s since the latest one, as the daemon goes on probing: on a loaded machine a
   * test takes minutes, and a day's window ending then must still find its last minutes probed.
   */
  private probeUntil(now: number): void {
    for (let at = this.probedUntil + 10_000; at <= now; at += 10_000) {
      this.probe(at, this.isp1Answers);
      this.probedUntil = at;
    }
  }

  /** isp1 and isp2 get IPv6 too; IPv6 traffic left isp1 for isp2 a minute ago (isp1's IPv6 is down). */
  withIpv6(): void {
    const at = this.minutesAgo(1);
    this.ipv6 = {
      version: 1,
      lastCycleAt: this.now,
      active: 'isp2',
      gateways: {
        isp1: { up: false, since: at, checkedAt: this.now, reason: 'down: 0/2 sites answered' },
        isp2: { up: true, since: this.minutesAgo(120), checkedAt: this.now, reason: 'up: 2/2 sites answered' },
      },
      lastSwitch: { at, from: 'isp1', to: 'isp2', reason: 'isp1 down: 0/2 sites answered' },
      resolved: {},
    };
    this.history.push({
      kind: 'switch',
      family: 6,
      at,
      from: 'isp1',
      to: 'isp2',
      reason: 'isp1 down: 0/2 sites answered',
      source: 'netgwm.log',
    });
  }

  /** One round of isp1 (answered or not) and isp2 at `at`, over IPv4 and IPv6. */
  private probe(at: number, isp1Answers: boolean): void {
    const wave = Math.sin(at / 540_000);
    const echoes = (answered: boolean, rttMs: number) =>
      ['203.0.113.10', '203.0.113.20'].map((site) => ({ site, answered, rttMs: answered ? rttMs : undefined }));
    const lossy = Math.floor(at / 10_000) % 37 === 0;
    for (const suffix of ['', '/6']) {
      recordEvent(this.series, {
        kind: 'round',
        gateway: `isp1${suffix}`,
        at,
        settledAt: at,
        echoes: echoes(isp1Answers && !lossy, 12 + 4 * wave),
      });
      recordEvent(this.series, { kind: 'round', gateway: `isp2${suffix}`, at, settledAt: at, echoes: echoes(true, 30 + 4 * wave) });
    }
  }

  close(): Promise<void> {
    return new Promise((closed) => this.server.close(() => closed()));
  }

  private document(url: URL): object | undefined {
    const now = Date.now();
    if (url.pathname === '/api/status')
      return statusDocument({
        config: { file: '/etc/netgwm/netgwm.yml', min_uptime: 900, gateways: GATEWAYS },
        state: this.state,
        stateFile: '/var/lib/netgwm/state.json',
        hasState: true,
        mode: 'auto',
        now,
        ...(this.ipv6 && {
          ipv6: { state: this.ipv6, stateFile: '/var/lib/netgwm/state6.json', hasState: true, gateways: GATEWAYS6, mode: 'auto' },
        }),
      });
    if (url.pathname === '/api/history')
      return historyDocument(
        [...this.history].sort((a, b) => a.at - b.at), // oldest first, as readHistory gives them
        Number(url.searchParams.get('n') ?? 20),
        now,
      );
    if (url.pathname === '/api/series') {
      this.probeUntil(now);
      return seriesDocument(
        this.series,
        {
          gateway: url.searchParams.get('gateway') ?? '',
          family: url.searchParams.get('family') === '6' ? 6 : 4,
          range: (url.searchParams.get('range') ?? '1h') as SeriesRange,
        },
        now,
      );
    }
    return undefined;
  }
}
