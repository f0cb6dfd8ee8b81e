// The built status page (npm run build → dist/page/) as the web server gets it.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadPageAssets } from '../../../src/web/assets.js';
import { tempDir } from '../../support/temp-dir.js';

/** The bound for the whole page with its scripts and styles. */
const MAX_PAGE_BYTES = 150 * 1024;

describe('loadPageAssets', () => {
  it('serves the built page, its script and its style with their content types', async () => {
    const assets = await loadPageAssets();
    expect([...assets.keys()].sort()).toEqual(['/', '/app.css', '/app.js']);
    expect(assets.get('/')!.type).toBe('text/html; charset=utf-8');
    expect(assets.get('/app.js')!.type).toBe('text/javascript; charset=utf-8');
    expect(assets.get('/app.css')!.type).toBe('text/css; charset=utf-8');
  });

  it('keeps the whole page under 150 KB', async () => {
    const total = [...(await loadPageAssets()).values()].reduce((sum, asset) => sum + asset.body.length, 0);
    expect(total).toBeLessThan(MAX_PAGE_BYTES);
  });

  it('has no inline script or style and loads nothing from elsewhere (the CSP forbids both)', async () => {
    const html = (await loadPageAssets()).get('/')!.body.toString();
    expect(html).not.toMatch(/<style|style=|<script(?![^>]*\ssrc=)|\son[a-z]+=/i);
    // An empty data: icon keeps the browser from asking for /favicon.ico.
    const references = [...html.matchAll(/(?:src|href)="([^"]*)"/g)].map((match) => match[1]);
    expect(references.sort()).toEqual(['app.css', 'app.js', 'data:,']);
  });

  it('says to build the page when its files are missing', async () => {
    const dir = await tempDir('page');
    await expect(loadPageAssets(join(dir, 'none'))).rejects.toThrow(`cannot read ${join(dir, 'none')} (ENOENT); run \`npm run build\``);
    await writeFile(join(dir, 'app.js'), '');
    await expect(loadPageAssets(dir)).rejects.toThrow(`${dir} has no index.html`);
  });
});
