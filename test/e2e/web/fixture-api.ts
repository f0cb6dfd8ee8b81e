// A stand-in for the daemon's web server: the built page (loadPageAssets) and the API's documents
// built by the same code as `status --json` and `history --json`, from a state the test changes,
// with made-up series. For the page's own tests, on loopback.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { State } from '../../../src/core/types.js';
import { historyDocument, type HistoryEntry } from '../../../src/report/history.js';
import { iso } from '../../../src/report/json-units.js';
import { statusDocument } from '../../../src/report/status-document.js';
import { loadPageAssets } from '../../../src/web/assets.js';

export const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
const GATEWAYS = [
  { name: 'isp1', ip: '192.0.2.1', dev: 'eth1', priority: 1 },
  { name: 'isp2', ip: '198.51.100.1', dev: 'eth2', priority: 2 },
  { name: 'lte', dev: 'ppp0', priority: 3 },
];
const STEP_S: Record<string, number> = { '1h': 10, '24h': 60, '30d': 300 };
const POINTS = 360;

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
  /** Every request's path, in order. */
  readonly served: string[] = [];

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

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
      response.writeHead(status, { 'content-type': type, 'content-security-policy': CSP, 'x-content-type-options': 'nosniff' });
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
      });
    if (url.pathname === '/api/history') return historyDocument(this.history, Number(url.searchParams.get('n') ?? 20), now);
    if (url.pathname === '/api/series')
      return this.series(url.searchParams.get('gateway') ?? '', url.searchParams.get('range') ?? '1h', now);
    return undefined;
  }

  /** Made-up RTTs (isp2 slower), isp1 lost from its switch on, lte never probed: `/api/series`' shape. */
  private series(gateway: string, range: string, now: number) {
    const step = STEP_S[range] ?? 10;
    const to = Math.floor(now / 1000 / step) * step;
    const time = Array.from({ length: POINTS }, (_, i) => to - (POINTS - 1 - i) * step);
    const down = this.state.lastSwitch ? this.state.lastSwitch.at / 1000 : Number.POSITIVE_INFINITY;
    const rtt = time.map((t, i) =>
      gateway === 'lte' || (gateway === 'isp1' && t >= down) ? null : (gateway === 'isp1' ? 12 : 30) + 4 * Math.sin(i / 9),
    );
    const loss = time.map((t, i) => (gateway === 'lte' ? null : gateway === 'isp1' && t >= down ? 100 : i % 37 === 0 ? 25 : 0));
    return {
      schema_version: 1,
      generated_at: iso(now),
      gateway,
      family: 4,
      range,
      step_s: step,
      from: iso(time[0]! * 1000),
      to: iso((to + step) * 1000),
      time,
      rtt_ms: rtt,
      rtt_max_ms: rtt.map((value) => (value === null ? null : value * 1.5)),
      loss_pct: loss,
      sent: loss.map((value) => (value === null ? 0 : 10)),
    };
  }
}
