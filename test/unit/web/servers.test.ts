// The daemon's status page and metrics servers with real sockets on 127.0.0.1 and free ports: the
// routes, their headers and JSON, one server or two, and the limits of /metrics kept by the page.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import type { Config } from '../../../src/config/load.js';
import { recordEvent, type Series } from '../../../src/core/series.js';
import { createLogger } from '../../../src/log/logger.js';
import { readHistoryDocument } from '../../../src/report/history.js';
import { readStatus } from '../../../src/report/read-status.js';
import { saveState } from '../../../src/state/store.js';
import type { HttpLimits, HttpServer } from '../../../src/web/http-server.js';
import { startServers } from '../../../src/web/servers.js';
import { execa } from 'execa';
import { localTime } from '../../../src/log/time.js';
import { fakeClockEnv, NETGWM } from '../../e2e/harness.js';
import { freePort, rawClients } from '../../support/http-clients.js';
import { oneEchoRound } from '../../support/probe-rounds.js';
import { configFixture, type ConfigFixture } from '../config/fixture.js';
import { state } from '../report/fixtures.js';

const NOW = Date.UTC(2026, 11, 1, 12, 0, 3);
const LIMITS: HttpLimits = { maxConnections: 4, idleMs: 300, requestMs: 300, checkIntervalMs: 50 };
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

let fixture: ConfigFixture;
let running: HttpServer | undefined;
const clients = rawClients();

beforeAll(async () => {
  fixture = await configFixture();
});
afterEach(async () => {
  clients.destroyAll();
  await running?.close();
  running = undefined;
});

/** isp1 (IPv4 and IPv6) and isp2 (IPv4), the state of the report fixtures, a log with one switch. */
async function serve(keys: (port: number) => string) {
  const port = await freePort();
  const dir = fixture.dir;
  const stateDir = join(dir, `state-${port}`);
  await saveState(stateDir, state);
  const logFile = join(stateDir, 'netgwm.log');
  await writeFile(logFile, '2026-12-01 11:58:00 INFO route replaced to: via 192.0.2.1 (isp1, was isp2: isp2 down, 0/2 sites answered)\n');
  const { config } = await fixture.load(
    `gateways:\n  isp1: {ip: 192.0.2.1, ip6: "2001:db8::1", dev: eth1, priority: 1}\n  isp2: {ip: 198.51.100.1, priority: 2}\n` +
      `check_sites: [203.0.113.10, "2001:db8:ffff::10"]\ncheck_table: 194\nstate_dir: ${stateDir}\nlog_file: ${logFile}\n${keys(port)}`,
  );
  const series: Series = new Map();
  const round = oneEchoRound;
  for (let at = NOW - 120_000; at <= NOW; at += 1000) recordEvent(series, round('isp1', at, at % 7000 === 0 ? undefined : 12));
  recordEvent(series, round('isp1/6', NOW, 30));
  const logged: string[] = [];
  const log = createLogger([{ to: { write: (text) => logged.push(text) }, level: 'debug', format: 'text' }]);
  running = await startServers(() => config, { log, series: () => series, now: () => NOW, limits: LIMITS });
  const get = (path: string, init?: RequestInit) =>
    fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(10_000), ...init });
  return { port, config, logged, get };
}

const seriesSchema = z.strictObject({
  schema_version: z.literal(1),
  generated_at: z.iso.datetime(),
  gateway: z.string(),
  family: z.union([z.literal(4), z.literal(6)]),
  range: z.enum(['1h', '24h', '30d']),
  step_s: z.number().int().positive(),
  from: z.iso.datetime(),
  to: z.iso.datetime(),
  time: z.array(z.number().int()),
  rtt_ms: z.array(z.number().nonnegative().nullable()),
  rtt_max_ms: z.array(z.number().nonnegative().nullable()),
  loss_pct: z.array(z.number().min(0).max(100).nullable()),
  sent: z.array(z.number().int().nonnegative()),
});

describe('status page routes (loopback)', () => {
  it('serves the page with its headers; HEAD without a body; other methods 405, unknown paths 404', async () => {
    const { get } = await serve((port) => `web_listen: 127.0.0.1:${port}\n`);
    const page = await get('/');
    expect(page.status).toBe(200);
    expect(Object.fromEntries(page.headers)).toMatchObject({
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': CSP,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
    });
    const body = await page.text();
    expect(body).toMatch(/^<!doctype html>/i);
    const head = await get('/', { method: 'HEAD' });
    expect(head.headers.get('content-length')).toBe(String(Buffer.byteLength(body)));
    expect(await head.text()).toBe('');
    for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS']) {
      const refused = await get('/api/status', { method });
      expect([refused.status, refused.headers.get('allow'), refused.headers.get('content-security-policy')]).toEqual([
        405,
        'GET, HEAD',
        CSP,
      ]);
    }
    const unknown = await get('/etc/passwd');
    expect([unknown.status, unknown.headers.get('x-content-type-options')]).toEqual([404, 'nosniff']);
    expect(await get('/metrics').then((response) => response.status)).toBe(404);
  });

  it('/api/status is `status --json` and /api/history `history --json -n N`, never cached', async () => {
    const { get, config } = await serve((port) => `web_listen: 127.0.0.1:${port}\n`);
    const status = await get('/api/status');
    expect(Object.fromEntries(status.headers)).toMatchObject({
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
    });
    // What `netgwm status --json` prints: the same document, the same text.
    expect(await status.text()).toBe(`${JSON.stringify(await readStatus(config, NOW), null, 2)}\n`);
    const history = await get('/api/history?n=5');
    expect(history.headers.get('cache-control')).toBe('no-store');
    const document = (await history.json()) as { entries: Array<{ to: string }> };
    expect(document).toEqual(JSON.parse(JSON.stringify(await readHistoryDocument(config, 5, NOW))));
    expect(document.entries.map((entry) => entry.to)).toContain('isp1');
    for (const n of ['0', '1001', 'x', '1.5']) {
      const bad = await get(`/api/history?n=${n}`);
      expect([bad.status, await bad.text()]).toEqual([400, `n: expected a whole number from 1 to 1000, got "${n}"\n`]);
    }
  });

  it('/api/status and /api/history are, to the byte, what the built binary prints at the same time', async () => {
    const { get, config } = await serve((port) => `web_listen: 127.0.0.1:${port}\n`);
    // The binary on a clock stopped at NOW, as the server's.
    const cli = (...args: string[]) =>
      execa(process.execPath, [NETGWM, ...args, '--json', '-c', config.file], {
        env: fakeClockEnv({ at: localTime(new Date(NOW)) }),
        reject: false,
        timeout: 60_000,
      });
    const [status, history] = await Promise.all([cli('status'), cli('history', '-n', '3')]);
    expect(status.exitCode).toBe(0);
    expect(await (await get('/api/status')).text()).toBe(`${status.stdout}\n`);
    expect(await (await get('/api/history?n=3')).text()).toBe(`${history.stdout}\n`);
  });

  it('/api/series: the schema, the points of each range, 400 for a bad parameter and 404 for an unknown gateway', async () => {
    const { get } = await serve((port) => `web_listen: 127.0.0.1:${port}\n`);
    for (const [query, step, points] of [
      ['gateway=isp1&family=4&range=1h', 10, 360],
      ['gateway=isp1&range=24h', 60, 1440],
      ['gateway=isp1&family=6&range=30d', 300, 8640],
      ['gateway=isp2&family=4&range=1h', 10, 360],
    ] as const) {
      const response = await get(`/api/series?${query}`);
      expect([response.status, response.headers.get('cache-control')]).toEqual([200, 'no-store']);
      const document = seriesSchema.parse(await response.json());
      expect(document.step_s).toBe(step);
      for (const column of [document.time, document.rtt_ms, document.rtt_max_ms, document.loss_pct, document.sent])
        expect(column).toHaveLength(points);
      expect(document.time.every((time, i) => i === 0 || time - document.time[i - 1]! === step)).toBe(true);
      expect(document.from).toBe(new Date(document.time[0]! * 1000).toISOString());
      expect(document.to).toBe(new Date((document.time.at(-1)! + step) * 1000).toISOString());
      expect(document.generated_at).toBe(new Date(NOW).toISOString());
    }
    // A round a second from 11:58:03 to 12:00:03, lost at multiples of 7 s: 7 rounds, 11 × 10, 4.
    const recent = seriesSchema.parse(await (await get('/api/series?gateway=isp1&range=1h')).json());
    expect(recent.sent.slice(-14)).toEqual([0, 7, ...Array(11).fill(10), 4]);
    expect(recent.rtt_ms.at(-2)).toBe(12);
    expect(recent.loss_pct.slice(-13, -1).every((loss) => loss !== null && loss <= 20)).toBe(true);
    expect(recent.loss_pct.slice(0, 300).every((loss) => loss === null)).toBe(true);
    for (const [query, status, message] of [
      ['range=1h', 400, 'gateway: missing; expected the name of a configured gateway, e.g. ?gateway=isp1&range=1h'],
      ['gateway=isp1', 400, 'range: expected one of 1h, 24h, 30d, got nothing'],
      ['gateway=isp1&range=7d', 400, 'range: expected one of 1h, 24h, 30d, got "7d"'],
      ['gateway=isp1&range=1h&family=5', 400, 'family: expected 4 or 6, got "5"'],
      ['gateway=lte&range=1h', 404, 'no gateway "lte" with IPv4 in the config'],
      ['gateway=isp2&range=1h&family=6', 404, 'no gateway "isp2" with IPv6 in the config'],
    ] as const) {
      const response = await get(`/api/series?${query}`);
      expect([response.status, await response.text()]).toEqual([status, `${message}\n`]);
    }
  });
});

describe('one server or two', () => {
  it('web_listen equal to metrics_listen: one server serves both', async () => {
    const { get, logged, port } = await serve((port) => `web_listen: 127.0.0.1:${port}\nmetrics_listen: 127.0.0.1:${port}\n`);
    expect((await get('/metrics')).status).toBe(200);
    expect((await get('/api/status')).status).toBe(200);
    expect(logged.filter((line) => line.includes('serving'))).toEqual([
      expect.stringContaining(`INFO serving metrics and the status page at http://127.0.0.1:${port}/`),
    ]);
  });

  it('two addresses: two servers, each with its own routes', async () => {
    const other = await freePort();
    const { get, logged } = await serve((port) => `web_listen: 127.0.0.1:${port}\nmetrics_listen: 127.0.0.1:${other}\n`);
    expect((await get('/metrics')).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${other}/metrics`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${other}/api/status`)).status).toBe(404);
    expect(logged.filter((line) => line.includes('serving')).sort()).toEqual([
      expect.stringContaining(`serving metrics at http://127.0.0.1:${other}/metrics`),
      expect.stringContaining('serving the status page at http://127.0.0.1:'),
    ]);
  });

  it('a port in use is logged, not fatal', async () => {
    const { port } = await serve((port) => `web_listen: 127.0.0.1:${port}\n`);
    const logged: string[] = [];
    const log = createLogger([{ to: { write: (text) => logged.push(text) }, level: 'debug', format: 'text' }]);
    const config = { web_listen: `127.0.0.1:${port}` } as Config;
    const second = await startServers(() => config, { log, series: () => new Map(), now: () => NOW });
    await second.close();
    expect(logged).toEqual([
      expect.stringMatching(
        /ERROR cannot serve the status page on 127\.0\.0\.1:\d+ \(.*EADDRINUSE.*\); the daemon runs on without it; fix web_listen and restart it/,
      ),
    ]);
  });
});

describe('status page limits, as /metrics', () => {
  it('closes connections beyond the cap at once, and idle ones after idleMs; then serves again', async () => {
    const { port, get } = await serve((port) => `web_listen: 127.0.0.1:${port}\n`);
    const many = await Promise.all(Array.from({ length: 40 }, () => clients.connect(port)));
    await Promise.all(many.map((c) => c.closed));
    expect((await get('/api/status')).status).toBe(200);
  });

  it('closes a client that sends its headers too slowly, though it is never idle', async () => {
    const { port, get } = await serve((port) => `web_listen: 127.0.0.1:${port}\n`);
    const slow = await clients.connect(port, 'GET /api/status HTTP/1.1\r\nHost: x\r\n');
    const drip = setInterval(() => slow.socket.write('X'), 50);
    try {
      expect(await slow.closed).toMatch(/^HTTP\/1\.1 408/);
    } finally {
      clearInterval(drip);
    }
    expect((await get('/')).status).toBe(200);
  });

  it('refuses headers that are too large, and a request with a body', async () => {
    const { port, get } = await serve((port) => `web_listen: 127.0.0.1:${port}\n`);
    const large = await clients.connect(port, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(10_000)}\r\n\r\n`);
    expect(await large.closed).toMatch(/^HTTP\/1\.1 431/);
    const body = await clients.connect(port, 'GET /api/status HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello');
    expect(await body.closed).toMatch(/^HTTP\/1\.1 413/);
    expect((await get('/')).status).toBe(200);
  });
});
