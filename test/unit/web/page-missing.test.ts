// A broken install (the page's files unreadable) must not stop the daemon: the JSON is still
// served and the problem logged.
import { describe, expect, it, vi } from 'vitest';
import type { Config } from '../../../src/config/load.js';
import { createLogger } from '../../../src/log/logger.js';
import { startServers } from '../../../src/web/servers.js';
import { freePort } from '../../support/http-clients.js';

vi.mock('../../../src/web/assets.js', () => ({
  loadPageAssets: () => Promise.reject(new Error("ENOENT: no such file or directory, open '/usr/share/netgwm/web/index.html'")),
}));

describe('status page without its files', () => {
  it('logs it and serves the JSON routes', async () => {
    const port = await freePort();
    const logged: string[] = [];
    const log = createLogger([{ to: { write: (text) => logged.push(text) }, level: 'debug', format: 'text' }]);
    const config = { web_listen: `127.0.0.1:${port}`, gateways: [], families: [4] } as unknown as Config;
    const servers = await startServers(() => config, { log, series: () => new Map(), now: Date.now });
    try {
      expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(404);
      expect((await fetch(`http://127.0.0.1:${port}/api/series?range=1h`)).status).toBe(400);
    } finally {
      await servers.close();
    }
    expect(logged[0]).toMatch(
      /ERROR cannot read the status page's files \(ENOENT: .*index\.html'\); serving only its JSON \(\/api\/…\); reinstall netgwm/,
    );
    expect(logged[1]).toMatch(/INFO serving the status page at/);
  });
});
