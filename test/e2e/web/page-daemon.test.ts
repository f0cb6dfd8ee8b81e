// The status page served by a real daemon (web_listen) on the namespace test network, in Debian's
// chromium running in the router's namespace: a failover shows on the page.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type HeadlessChromium,
  launchChromium,
  openPage,
  rttLinePixels,
  saveScreenshot,
  waitForGraphPoints,
  waitForSwitchShown,
} from '../../../scripts/testnet/browser.js';
import { Harness, waitFor } from '../harness.js';

const WEB_LISTEN = '127.0.0.1:9560';
const ORIGIN = `http://${WEB_LISTEN}`;

describe('status page served by the daemon', () => {
  let h: Harness;
  let chromium: HeadlessChromium | undefined;
  let daemon: ReturnType<Harness['daemon']> | undefined;

  beforeAll(async () => {
    h = await Harness.create({ uplinks: 2 });
  });
  afterAll(async () => {
    await chromium?.close();
    daemon?.kill('SIGTERM');
    await daemon;
    await h?.destroy();
  });

  it('shows the new active gateway and a switch marker after a failover, with graphs, asking nothing of any other origin', async () => {
    await h.writeConfig({ web_listen: WEB_LISTEN, check_all_gateways: true });
    daemon = h.daemon(['--interval', '1']);
    expect(await waitFor(async () => (await h.currentGateway()) === 'isp1', 30_000)).toBe(true);
    chromium = await launchChromium(h.net.routerNs);
    const { page, requests, problems } = await openPage(chromium.browser, `${ORIGIN}/`);
    // Some RTT buckets (10 s each) of isp1 first, so that its graph has a line before the failure.
    await waitForGraphPoints(page, 'isp1/4', 3, 120_000);
    expect(await page.locator('.active-name').textContent()).toBe('isp1');

    await h.net.failOperator(1);
    expect(await waitFor(async () => (await h.currentGateway()) === 'isp2', 30_000)).toBe(true);
    // The screenshot shows what the page showed, also when a check failed.
    try {
      await waitForSwitchShown(page, 'isp2');
      expect(await page.locator('.active-name').textContent()).toBe('isp2');
      expect(await page.locator('.gateway').first().textContent()).toContain('▼ down');
      expect(await page.locator('.event-switch').first().textContent()).toContain('isp1 → isp2');
      // The graphs refresh every 10 s: wait (bounded) until both have drawn their RTT line.
      await expect
        .poll(async () => Object.values(await rttLinePixels(page)).every((count) => count > 0), { timeout: 60_000, interval: 1_000 })
        .toBe(true);
    } finally {
      await saveScreenshot(page, 'page-daemon-failover');
    }

    expect(problems).toEqual([]);
    expect(requests.filter((url) => !url.startsWith(`${ORIGIN}/`))).toEqual([]);
    expect(requests.some((url) => url.startsWith(`${ORIGIN}/api/series?`))).toBe(true);
    await h.net.restoreOperator(1);
  }, 300_000); // a hang guard: about a minute of 10 s buckets and graph refreshes is expected
});
