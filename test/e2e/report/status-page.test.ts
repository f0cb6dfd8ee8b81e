// The real daemon on the namespace network serving the status page's JSON: /api/status as
// `netgwm status --json` says, /api/series filled by the monitor's rounds, a failover seen in
// both, the series kept across a restart; a remote page asks for the password of
// `netgwm passwd`, from a LAN host.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Harness, NETGWM, waitFor } from '../harness.js';

/** Ports of the router namespace's own addresses: nothing else listens there. */
const PORT = 20_000 + Math.floor(Math.random() * 10_000);
const ROUTER_LAN_IP = '203.0.113.1';

let h: Harness;
beforeAll(async () => {
  h = await Harness.create({ uplinks: 2 });
});
afterAll(async () => {
  await h?.destroy();
});

interface Fetched {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** GET `url` with node's fetch from inside namespace `ns`. */
async function get(ns: string, url: string, authorization?: string): Promise<Fetched> {
  const script = `fetch(${JSON.stringify(url)}, { headers: ${JSON.stringify(authorization ? { authorization } : {})} }).then(
    async (r) => console.log(JSON.stringify({ status: r.status, headers: Object.fromEntries(r.headers), body: await r.text() })),
    (e) => console.log(JSON.stringify({ status: 0, headers: {}, body: String(e.cause?.code ?? e) })))`;
  return JSON.parse((await h.net.exec(ns, process.execPath, ['-e', script])).stdout) as Fetched;
}

const local = (path: string) => get(h.net.routerNs, `http://127.0.0.1:${PORT}${path}`);

interface SeriesDoc {
  time: number[];
  sent: number[];
  loss_pct: Array<number | null>;
  rtt_ms: Array<number | null>;
}

async function series(gateway: string): Promise<SeriesDoc> {
  const response = await local(`/api/series?gateway=${gateway}&family=4&range=1h`);
  expect(response.status).toBe(200);
  return JSON.parse(response.body) as SeriesDoc;
}

/** How many times a daemon said it serves `what` (the log is the test file's, over all its daemons). */
const servings = async (what: string) => (await h.logLines()).filter((line) => line.includes(`INFO serving ${what} at`)).length;

describe('status page of the real daemon', () => {
  it('serves status and real series, sees a failover, and keeps the series across a restart', async () => {
    await h.writeConfig({ web_listen: `127.0.0.1:${PORT}`, min_uptime: 3600 });
    let daemon = h.daemon(['--interval', '1']);
    try {
      expect(await waitFor(async () => (await servings('the status page')) >= 1)).toBe(true);
      // Rounds every 0.15 s: a few buckets of answered echoes for both gateways.
      expect(
        await waitFor(async () => {
          const [one, two] = await Promise.all([series('isp1'), series('isp2')]);
          return one.sent.filter((sent) => sent > 0).length >= 2 && two.sent.some((sent) => sent > 0);
        }, 60_000),
      ).toBe(true);
      const isp1 = await series('isp1');
      const filled = isp1.sent.map((sent, i) => [sent, isp1.loss_pct[i], isp1.rtt_ms[i]] as const).filter(([sent]) => sent > 0);
      for (const [, loss, rtt] of filled.slice(0, -1)) {
        expect(loss).toBe(0);
        expect(rtt).toBeGreaterThan(0);
      }
      const page = await local('/');
      expect([page.status, page.headers['content-type']]).toEqual([200, 'text/html; charset=utf-8']);

      // /api/status is `netgwm status --json` (to the text: test/unit/web/servers.test.ts); read a
      // moment apart, the same document with the same gateways in the same states.
      const status = await local('/api/status');
      expect(status.headers['cache-control']).toBe('no-store');
      const gist = (text: string) => {
        const doc = JSON.parse(text) as { gateways: Array<{ name: string; state: string }> } & Record<string, unknown>;
        return { keys: Object.keys(doc), active: doc.active, gateways: doc.gateways.map((g) => [g.name, g.state]) };
      };
      expect(gist(status.body)).toEqual(gist((await h.netgwm(['status', '--json'])).stdout));
      expect(JSON.parse(status.body)).toMatchObject({ schema_version: 1, active: 'isp1' });

      // isp1 fails: the daemon switches, the page's JSON says so and isp1's buckets show the loss.
      await h.net.failOperator(1);
      expect(await waitFor(async () => JSON.parse((await local('/api/status')).body).active === 'isp2', 60_000)).toBe(true);
      expect(await waitFor(async () => (await series('isp1')).loss_pct.some((loss) => loss === 100), 60_000)).toBe(true);
      const history = JSON.parse((await local('/api/history?n=5')).body) as { entries: Array<{ kind: string; to?: string }> };
      expect(history.entries.at(-1)).toMatchObject({ kind: 'switch', to: 'isp2' });
      await h.net.restoreOperator(1);

      const last = await series('isp1');
      daemon.kill('SIGTERM');
      expect((await daemon).exitCode).toBe(0);
      expect((await stat(join(h.stateDir(), 'series', 'series.bin'))).size).toBeGreaterThan(0);

      // Restarted: every bucket finished before the stop is there again, to the echo.
      daemon = h.daemon(['--interval', '1']);
      expect(await waitFor(async () => (await servings('the status page')) >= 2)).toBe(true);
      const after = await series('isp1');
      const sentAt = (doc: SeriesDoc) => new Map(doc.time.map((time, i) => [time, doc.sent[i]]));
      const finished = [...sentAt(last)].filter(([time, sent]) => time < last.time.at(-1)! && sent! > 0);
      expect(finished.length).toBeGreaterThanOrEqual(2);
      const kept = sentAt(after);
      expect(finished.map(([time]) => [time, kept.get(time)])).toEqual(finished);
      expect((await h.logLines()).filter((line) => / (WARN|ERROR) .*graphs/.test(line))).toEqual([]);
    } finally {
      daemon.kill('SIGTERM');
      await daemon;
    }
  }, 240_000);

  it('a non-loopback page: refused without web_allow_remote; with it, a LAN host needs the password', async () => {
    const passwords = join(h.dir, 'web.passwd');
    const remote = { web_listen: `${ROUTER_LAN_IP}:${PORT}`, web_password_file: passwords };
    await h.writeConfig(remote);
    const refused = await h.netgwm(['check-config']);
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toContain(
      `web_listen: ${ROUTER_LAN_IP}:${PORT} is not a loopback address, so anyone who reaches it could see the status page; use 127.0.0.1:${PORT}, or set web_allow_remote: true`,
    );
    await h.writeConfig({ ...remote, web_allow_remote: true });
    expect((await h.netgwm(['check-config'])).stderr).toContain(`${passwords} does not exist; create it with \`netgwm passwd USER\``);
    const set = await execa(process.execPath, [NETGWM, 'passwd', '-c', h.configFile(), 'admin'], { input: 'lan secret\n', reject: false });
    expect([set.exitCode, set.stderr]).toEqual([0, `netgwm: password of admin set in ${passwords}`]);

    const before = await servings('the status page');
    const daemon = h.daemon(['--interval', '1']);
    try {
      expect(await waitFor(async () => (await servings('the status page')) > before)).toBe(true);
      const url = `http://${ROUTER_LAN_IP}:${PORT}/api/status`;
      const basic = (password: string) => `Basic ${Buffer.from(`admin:${password}`).toString('base64')}`;
      for (const authorization of [undefined, basic('wrong')]) {
        const denied = await get(h.net.lanNs, url, authorization);
        expect([denied.status, denied.headers['www-authenticate']], denied.body).toEqual([401, 'Basic realm="netgwm", charset="UTF-8"']);
        expect(denied.body).not.toContain('schema_version');
      }
      const allowed = await get(h.net.lanNs, url, basic('lan secret'));
      expect(allowed.status).toBe(200);
      expect(JSON.parse(allowed.body)).toMatchObject({ schema_version: 1 });
    } finally {
      daemon.kill('SIGTERM');
    }
    expect((await daemon).exitCode).toBe(0);
  }, 120_000);
});
