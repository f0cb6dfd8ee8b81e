// The metrics endpoint with real sockets on 127.0.0.1 and a free port, its limits made short:
// what happens to idle, slow and surplus connections, and that it still serves /metrics.
import { afterEach, describe, expect, it } from 'vitest';
import type { Config } from '../../../src/config/load.js';
import { createLogger } from '../../../src/log/logger.js';
import { startMetricsServer, type MetricsLimits, type MetricsServer } from '../../../src/report/metrics-server.js';
import { saveState } from '../../../src/state/store.js';
import { freePort, rawClients } from '../../support/http-clients.js';
import { tempDir } from '../../support/temp-dir.js';
import { config as baseConfig, state } from './fixtures.js';

const LIMITS: MetricsLimits = { maxConnections: 4, idleMs: 300, requestMs: 300, checkIntervalMs: 50 };
let running: MetricsServer | undefined;
const clients = rawClients();
const client = clients.connect;

afterEach(async () => {
  clients.destroyAll();
  await running?.close();
  running = undefined;
});

async function serve(): Promise<{ port: number; logged: string[] }> {
  const dir = await tempDir('metrics');
  await saveState(dir, state);
  const port = await freePort();
  const config = { ...baseConfig, state_dir: dir, mode: 'auto', metrics_listen: `127.0.0.1:${port}` } as unknown as Config;
  const logged: string[] = [];
  const log = createLogger([{ to: { write: (text) => logged.push(text) }, level: 'debug', format: 'text' }]);
  running = await startMetricsServer(() => config, log, LIMITS);
  expect(running).toBeDefined();
  return { port, logged };
}

async function scrape(port: number): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(10_000) });
  await response.text();
  return response.status;
}

describe('metrics server limits', () => {
  it('closes connections beyond the cap at once, and idle ones after idleMs; then serves again', async () => {
    const { port } = await serve();
    const clients = await Promise.all(Array.from({ length: 40 }, () => client(port)));
    // Every one is closed by the server: 36 at once (over the cap), the 4 it kept when idle.
    await Promise.all(clients.map((c) => c.closed));
    expect(await scrape(port)).toBe(200);
  });

  it('closes a client that sends its headers too slowly, though it is never idle', async () => {
    const { port } = await serve();
    const slow = await client(port, 'GET /metrics HTTP/1.1\r\nHost: x\r\n');
    const drip = setInterval(() => slow.socket.write('X'), 50); // within idleMs, every time
    try {
      expect(await slow.closed).toMatch(/^HTTP\/1\.1 408/);
    } finally {
      clearInterval(drip);
    }
    expect(await scrape(port)).toBe(200);
  });

  it('a client that resets mid-request harms nothing', async () => {
    const { port, logged } = await serve();
    const rude = await client(port, 'GET /metr');
    rude.socket.resetAndDestroy();
    await rude.closed;
    expect(await scrape(port)).toBe(200);
    expect(logged.filter((line) => / (WARN|ERROR) /.test(line))).toEqual([]);
  });
});
