// Debian's chromium, headless, driven by playwright-core: the status page's browser tests and the
// demo's screenshot. In a namespace (the test router's) through a wrapper that runs chromium
// under `ip netns exec`, so the page is fetched over the namespace network.
// The functions handed to page.waitForFunction/evaluate run in the page (strings would be eval'd
// there, which the page's CSP refuses): they need the DOM's types.
/// <reference lib="dom" />
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { RTT_COLOUR } from '../../src/web/page/colours.js';

export const CHROMIUM = '/usr/bin/chromium';
/** Where the screenshots go (git ignores it). */
const ARTIFACTS_DIR = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));
/**
 * As root, on a machine without a display or a way out: no sandbox (root), no GPU, and none of
 * chromium's own connections (updates, sync, QUIC probes), which this network refuses.
 */
const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface HeadlessChromium {
  browser: Browser;
  close(): Promise<void>;
}

/** Headless chromium, in network namespace `netns` when given; close() also removes the wrapper. */
export async function launchChromium(netns?: string): Promise<HeadlessChromium> {
  const dir = await mkdtemp(join(tmpdir(), 'netgwm-chromium-'));
  try {
    let executablePath = CHROMIUM;
    if (netns) {
      executablePath = join(dir, 'chromium-in-netns');
      await writeFile(executablePath, `#!/bin/sh\nexec ip netns exec '${netns}' ${CHROMIUM} "$@"\n`, { mode: 0o755 });
    }
    const browser = await chromium.launch({ executablePath, headless: true, args: FLAGS, timeout: 60_000 });
    return {
      browser,
      close: async () => {
        await browser.close().catch(() => {});
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

export interface WatchedPage {
  page: Page;
  /** Every URL the page asked for, in order. */
  requests: string[];
  /** Console errors (a CSP violation is one) and uncaught exceptions. */
  problems: string[];
}

/** Opens `url` in a new page of `width` × `height` CSS pixels, recording its requests and errors. */
export async function openPage(browser: Browser, url: string, width = 1280, height = 900): Promise<WatchedPage> {
  const page = await browser.newPage({ viewport: { width, height } });
  const watched: WatchedPage = { page, requests: [], problems: [] };
  page.on('request', (request) => watched.requests.push(request.url()));
  page.on('console', (message) => {
    if (message.type() === 'error') watched.problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => watched.problems.push(`exception: ${error.message}`));
  await page.goto(url);
  return watched;
}

/** Waits (bounded) until the status page names `gateway` as the active one and marks a switch to it on a graph. */
export async function waitForSwitchShown(page: Page, gateway: string, timeoutMs = 60_000): Promise<void> {
  await page.waitForFunction(
    (name) =>
      document.body.dataset.active === name &&
      [...document.querySelectorAll('.marker-switch')].some((marker) => marker.textContent === `→ ${name}`),
    gateway,
    { timeout: timeoutMs, polling: 250 },
  );
}

/** Waits (bounded) until the graph of `path` (`isp1/4`) has RTT in at least `points` buckets. */
export async function waitForGraphPoints(page: Page, path: string, points: number, timeoutMs = 60_000): Promise<void> {
  await waitInPage(
    page,
    (arg) => {
      const [key, count] = arg.split(' ');
      return Number(document.querySelector<HTMLElement>(`[data-gateway="${key}"]`)?.dataset.points) >= Number(count);
    },
    `${path} ${points}`,
    timeoutMs,
  );
}

/** Per chart (by its data-gateway), how many pixels of the canvas have the RTT line's colour. */
export async function rttLinePixels(page: Page): Promise<Record<string, number>> {
  return page.evaluate(
    ([red, green, blue]) =>
      Object.fromEntries(
        [...document.querySelectorAll<HTMLElement>('figure.chart')].map((figure) => {
          const canvas = figure.querySelector('canvas');
          const data = canvas?.getContext('2d')?.getImageData(0, 0, canvas.width, canvas.height).data ?? [];
          let count = 0;
          // The RTT line's colour, give or take anti-aliasing.
          for (let i = 0; i < data.length; i += 4)
            if (Math.abs(data[i]! - red) + Math.abs(data[i + 1]! - green) + Math.abs(data[i + 2]! - blue) < 60 && data[i + 3]! > 200)
              count++;
          return [figure.dataset.gateway, count];
        }),
      ),
    RTT_COLOUR,
  );
}

/** Waits (bounded) until `predicate(arg)` holds in the page. */
export async function waitInPage(page: Page, predicate: (arg: string) => boolean, arg: string, timeoutMs = 30_000): Promise<void> {
  await page.waitForFunction(predicate, arg, { timeout: timeoutMs, polling: 250 });
}

/** Saves a screenshot of the whole page as test-artifacts/NAME.png and returns its path. */
export async function saveScreenshot(page: Page, name: string): Promise<string> {
  await mkdir(ARTIFACTS_DIR, { recursive: true });
  const path = join(ARTIFACTS_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
