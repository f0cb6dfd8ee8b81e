// The status page's files (web_listen, README "Status page"), served read-only by the daemon.
// `npm run build` bundles src/web/page/ into dist/page/ (index.html, app.js, app.css); the server
// reads them once when it starts.
import { readdir, readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface PageAsset {
  /** The Content-Type header to send. */
  type: string;
  body: Buffer;
}

// In the bundle (dist/netgwm.cjs, also in the Debian package's /usr/lib/netgwm/dist) the page
// is beside it; run from source (tests, tsx) this module is src/web/assets.ts and the page is
// the last build's.
export const PAGE_DIR = fileURLToPath(new URL(import.meta.url.endsWith('.cjs') ? 'page/' : '../../dist/page/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/** URL path → file, e.g. `/` → index.html, `/app.js`; loaded once when the web server starts. */
export async function loadPageAssets(dir: string = PAGE_DIR): Promise<Map<string, PageAsset>> {
  const names = await readdir(dir).catch((error: NodeJS.ErrnoException) => {
    throw new Error(`the status page's files are missing: cannot read ${dir} (${error.code ?? error.message}); run \`npm run build\``);
  });
  const assets = new Map<string, PageAsset>();
  for (const name of names.sort()) {
    const type = TYPES[extname(name)];
    if (!type) continue; // source maps and anything else the build leaves are not served
    assets.set(name === 'index.html' ? '/' : `/${name}`, { type, body: await readFile(`${dir}/${name}`) });
  }
  if (!assets.has('/')) throw new Error(`the status page's files are incomplete: ${dir} has no index.html; run \`npm run build\``);
  return assets;
}
