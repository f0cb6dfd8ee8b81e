// The status page in Debian's chromium against a stand-in API (fixture-api.ts): what it shows
// before and after a failover, at desktop and phone width, under the page's CSP.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type HeadlessChromium,
  launchChromium,
  openPage,
  rttLinePixels,
  saveScreenshot,
  waitForSwitchShown,
  waitInPage,
} from '../../../scripts/testnet/browser.js';
import { FixtureApi } from './fixture-api.js';

describe('status page (stand-in API)', () => {
  let api: FixtureApi;
  let chromium: HeadlessChromium;

  beforeAll(async () => {
    api = await FixtureApi.start();
    chromium = await launchChromium();
  });
  afterAll(async () => {
    await chromium?.close();
    await api?.close();
  });

  it('shows the active gateway, each state in words, the graphs and the history; a failover shows within a poll', async () => {
    const { page, requests, problems } = await openPage(chromium.browser, api.url);
    await waitInPage(
      page,
      (charts) => document.body.dataset.active === 'isp1' && document.querySelectorAll('figure.chart canvas').length === Number(charts),
      '3',
    );
    expect(await page.locator('.active-name').textContent()).toBe('isp1');
    expect(await page.locator('.state').allTextContents()).toEqual([
      '▲ up: 2/2 sites answered',
      '◆ degraded: loss 12 % > 10 % over 30 s',
      '? unknown',
    ]);
    expect(await page.locator('.event').allTextContents()).toEqual([
      expect.stringContaining('▒ all gateways down for 1m00s, the route stayed on isp1'),
    ]);
    await waitInPage(page, (key) => document.querySelector<HTMLElement>(`[data-gateway="${key}"]`)?.dataset.outages === '1', 'isp1/4');

    api.failOver();
    await waitForSwitchShown(page, 'isp2');
    expect(await page.locator('.state').first().textContent()).toBe('▼ down: 0/2 sites answered');
    expect(await page.locator('.why').textContent()).toMatch(
      /^Since \d\d:\d\d:\d\d \(\d+s ago\): isp1 → isp2, isp1 down: 0\/2 sites answered$/,
    );
    expect(await page.locator('.event').first().textContent()).toContain('⇄ switch isp1 → isp2: isp1 down: 0/2 sites answered');
    const pixels = await rttLinePixels(page);
    expect(pixels['isp1/4']).toBeGreaterThan(50);
    expect(pixels['isp2/4']).toBeGreaterThan(50);
    expect(pixels['lte/4']).toBe(0); // never probed: no line
    await saveScreenshot(page, 'page-fixture');

    await page.locator('button[data-range="24h"]').click();
    expect(await page.locator('button[data-range="24h"]').getAttribute('aria-pressed')).toBe('true');
    await waitInPage(
      page,
      (range) => [...document.querySelectorAll<HTMLElement>('figure.chart')].every((chart) => chart.dataset.range === range),
      '24h',
    );
    expect(await page.locator('[data-gateway="isp2/4"]').getAttribute('data-points')).toBe('1440'); // a day of minutes, all probed
    expect((await rttLinePixels(page))['isp2/4']).toBeGreaterThan(50);

    expect(problems).toEqual([]);
    expect(requests.filter((url) => !url.startsWith(api.url))).toEqual([]);
    await page.close();
  });

  it('fits a 360 px wide phone screen', async () => {
    const { page, problems } = await openPage(chromium.browser, api.url, 360, 740);
    await waitInPage(page, (charts) => document.querySelectorAll('figure.chart canvas').length === Number(charts), '3');
    await saveScreenshot(page, 'page-fixture-narrow');
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('with IPv6: both decisions, and a card and a graph per gateway and family', async () => {
    api.withIpv6();
    const { page, problems } = await openPage(chromium.browser, api.url);
    await waitInPage(page, (charts) => document.querySelectorAll('figure.chart canvas').length === Number(charts), '5');
    expect(await page.locator('.active-line').allTextContents()).toEqual(['IPv4 traffic goes via isp2', 'IPv6 traffic goes via isp2']);
    expect(await page.locator('.gateway-name').allTextContents()).toEqual([
      'isp1 IPv4',
      'isp2 IPv4★ active',
      'lte IPv4',
      'isp1 IPv6',
      'isp2 IPv6★ active',
    ]);
    expect(await page.locator('.event').allTextContents()).toEqual([
      expect.stringContaining('⇄ switch IPv4 isp1 → isp2'),
      expect.stringContaining('⇄ switch IPv6 isp1 → isp2'),
      expect.stringContaining('▒ all IPv4 gateways down'),
    ]);
    await waitInPage(page, (key) => document.querySelector<HTMLElement>(`[data-gateway="${key}"]`)?.dataset.switches === '1', 'isp1/6');
    const pixels = await rttLinePixels(page);
    expect(pixels['isp1/6']).toBeGreaterThan(50);
    expect(pixels['isp2/6']).toBeGreaterThan(50);
    await saveScreenshot(page, 'page-fixture-ipv6');
    expect(problems).toEqual([]);
    await page.close();
  });
});
