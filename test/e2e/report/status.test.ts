// status, history, NetGWM's status files and the metrics on a real namespace network: after real
// switches and a real loss, with a real promtool and a real prometheus-node-exporter.
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatusDocument } from '../../../src/report/status-document.js';
import { Harness, waitFor } from '../harness.js';
import { holdCycleLock, promtoolCheck, requireTool, startNodeExporter } from './tools.js';

let h: Harness;
const textfileDir = () => join(h.dir, 'node-exporter');
const metricsFile = () => join(textfileDir(), 'netgwm.prom');
const config = (extra: Record<string, unknown> = {}) => h.writeConfig({ check_all_gateways: true, metrics_file: metricsFile(), ...extra });

beforeAll(async () => {
  await requireTool('promtool', 'prometheus');
  await requireTool('prometheus-node-exporter', 'prometheus-node-exporter');
  h = await Harness.create();
  await config();
});
afterAll(async () => {
  await h?.destroy();
});

async function status(): Promise<StatusDocument> {
  const result = await h.netgwm(['status', '--json']);
  expect(result).toMatchObject({ exitCode: 0, stderr: '' });
  return JSON.parse(result.stdout) as StatusDocument;
}

/** What logrotate does with `compress` and `delaycompress`, between two cron runs. */
async function rotateLog(): Promise<void> {
  const [log, first, second] = [h.logFile(), `${h.logFile()}.1`, `${h.logFile()}.2.gz`];
  const previous = await readFile(first).catch(() => undefined);
  if (previous) await writeFile(second, gzipSync(previous));
  await rename(log, first);
}

describe('status after real switches', () => {
  it('after a failover, status --json shows the new active gateway, the reason and every state', async () => {
    expect((await h.run()).exitCode).toBe(0);
    await rotateLog();
    await h.net.failOperator(1);
    expect((await h.run()).exitCode).toBe(0);
    expect(await h.currentGateway()).toBe('isp2');

    const doc = await status();
    expect(doc).toMatchObject({
      schema_version: 1,
      has_state: true,
      mode: 'auto',
      active: 'isp2',
      totals: { switches: 2, hook_failures: 0 },
      all_down_since: null,
    });
    expect(doc.last_switch).toMatchObject({ from: 'isp1', to: 'isp2' });
    expect(doc.last_switch!.reason).toMatch(/^isp1 down, 0\/2 sites answered/);
    expect(doc.gateways.map((g) => [g.name, g.state, g.active, g.fresh, g.sites_answered])).toEqual([
      ['isp1', 'down', false, true, 0],
      ['isp2', 'up', true, true, 2],
      ['isp3', 'up', false, true, 2],
    ]);
    expect(doc.gateways[1]!.rtt_ms.last).toBeGreaterThan(0);

    const table = await h.netgwm(['status']);
    expect(table.stdout).toMatch(/^\* {2}isp2 +2 +via 192\.0\.2\.5 +up /m);
    expect(table.stdout).toMatch(/^ {3}isp1 +1 +via 192\.0\.2\.1 +down /m);
    expect(table.stdout).toMatch(/^Last switch: .*, isp1 -> isp2: isp1 down, 0\/2 sites answered/m);
  });

  it("NetGWM's status files say the same", async () => {
    expect(await readFile(join(h.statusDir(), 'isp1'), 'utf8')).toBe('down');
    expect(await readFile(join(h.statusDir(), 'isp2'), 'utf8')).toMatch(/^up:198\.51\.100\.1:\d+\.\d{3}$/);
  });

  it('status answers while a cycle holds the lock, without waiting for it', async () => {
    const lock = await holdCycleLock(h.net.routerNs, h.lockDir());
    try {
      expect((await h.netgwm(['run', '--wait', '0'])).exitCode).toBe(75); // the lock is really held
      // The lock stays held until the end of this test: a status that waited for it would never
      // answer (the harness gives up after 30 s). How fast it answers is measured by npm run bench.
      const result = await h.netgwm(['status', '--json']);
      expect(result).toMatchObject({ exitCode: 0, stderr: '' });
      expect(JSON.parse(result.stdout).active).toBe('isp2');
    } finally {
      await lock.stop();
    }
  });
});

describe('metrics', () => {
  it('the metrics file passes promtool check metrics', async () => {
    const text = await readFile(metricsFile(), 'utf8');
    expect(text).toContain('netgwm_gateway_active{gateway="isp2",family="4"} 1');
    expect(await promtoolCheck(text)).toEqual({ exitCode: 0, output: '' });
  });

  it("a real node_exporter's textfile collector exposes the netgwm series", async () => {
    const exporter = await startNodeExporter(textfileDir());
    try {
      const scraped = await (await fetch(exporter.url)).text();
      for (const line of [
        // node_exporter sorts the labels by name.
        'netgwm_gateway_active{family="4",gateway="isp2"} 1',
        'netgwm_gateway_up{family="4",gateway="isp1"} 0',
        'netgwm_switches_total{family="4"} 2',
        'node_textfile_scrape_error 0',
      ]) {
        expect(scraped.split('\n')).toContain(line);
      }
      expect(scraped).toMatch(/^netgwm_gateway_loss_ratio\{family="4",gateway="isp1"\} [\d.e+-]+$/m);
    } finally {
      await exporter.stop();
    }
  });

  it('the daemon serves the same on metrics_listen (loopback of the router namespace) and stops cleanly', async () => {
    await config({ metrics_listen: '127.0.0.1:9559' });
    const daemon = h.daemon(['--interval', '1']);
    try {
      expect(
        await waitFor(async () =>
          (await h.logLines()).some((line) => line.includes('INFO serving metrics at http://127.0.0.1:9559/metrics')),
        ),
      ).toBe(true);
      const scrape = (path: string) =>
        h.net.exec(h.net.routerNs, process.execPath, [
          '-e',
          `fetch('http://127.0.0.1:9559${path}').then(async (r) => console.log(r.status + '\\n' + (await r.text())))`,
        ]);
      const { stdout } = await scrape('/metrics');
      expect(stdout.split('\n')[0]).toBe('200');
      expect(stdout).toContain('netgwm_gateway_active{gateway="isp2",family="4"} 1');
      expect((await promtoolCheck(stdout.split('\n').slice(1).join('\n'))).exitCode).toBe(0);
      expect((await scrape('/')).stdout.split('\n')[0]).toBe('404');
    } finally {
      daemon.kill('SIGTERM');
    }
    expect((await daemon).exitCode).toBe(0);
    await config();
  });
});

describe('history', () => {
  it('lists the switches from the log rotated once and compressed once', async () => {
    await h.net.restoreOperator(1);
    await h.run(); // isp1 answers again: up since now, not yet stable
    await rotateLog();
    h.advanceClock(61); // min_uptime
    await h.run();
    expect(await h.currentGateway()).toBe('isp1');

    const result = await h.netgwm(['history', '--json']);
    expect(result.exitCode).toBe(0);
    const entries = JSON.parse(result.stdout).entries as Array<{ from: string | null; to: string; source: string; ongoing: boolean }>;
    expect(entries.map((entry) => [entry.from, entry.to, entry.source, entry.ongoing])).toEqual([
      [null, 'isp1', 'netgwm.log.2.gz', false],
      ['isp1', 'isp2', 'netgwm.log.1', false],
      ['isp2', 'isp1', 'netgwm.log', true],
    ]);
    expect((await h.netgwm(['history'])).stdout).toMatch(
      /switch {4}isp2 -> isp1 \(on isp1 for \d+s so far\): isp1 is back and stable, up for 1m0\ds$/,
    );
  });
});

describe('loss', () => {
  it('an uplink that drops half the echo requests shows about 50 % loss', async () => {
    // 10 echoes x 2 sites x 10 cycles = 200 echoes through isp1; a fresh state so the window holds only these.
    await config({ probe: { count: 10, timeout: 0.5 } });
    await rm(h.stateDir(), { recursive: true, force: true });
    await mkdir(h.stateDir());
    await h.net.setOperatorLoss(1, 50);
    try {
      for (let cycle = 0; cycle < 10; cycle++) expect((await h.run()).exitCode).toBe(0);
    } finally {
      await h.net.setOperatorLoss(1, 0);
    }
    const [isp1, isp2] = (await status()).gateways;
    console.log(
      `isp1 with 50 % of echo requests dropped: ${isp1!.loss.sent - isp1!.loss.replies} of ${isp1!.loss.sent} echoes lost (loss ratio ${isp1!.loss.ratio}); isp2: ${isp2!.loss.ratio}`,
    );
    expect(isp1).toMatchObject({ state: 'up', active: true, loss: { sent: 200, probes: 20 } });
    // Binomial(200, 0.5): the 30-70 % band is 5.7 standard deviations either side.
    expect(isp1!.loss.ratio).toBeGreaterThan(0.3);
    expect(isp1!.loss.ratio).toBeLessThan(0.7);
    expect(isp2!.loss).toMatchObject({ ratio: 0, sent: 200 });
  });
});
