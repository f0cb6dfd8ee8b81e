// The status page's files (web_listen, README "Status page"), served read-only by the daemon.
// Placeholder until the page is built: one HTML document and nothing else.
export interface PageAsset {
  /** The Content-Type header to send. */
  type: string;
  body: Buffer;
}

/** URL path → file, e.g. `/` → index.html; loaded once when the web server starts. */
export async function loadPageAssets(): Promise<Map<string, PageAsset>> {
  const html =
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>netgwm</title></head><body><h1>netgwm</h1></body></html>\n';
  return new Map([['/', { type: 'text/html; charset=utf-8', body: Buffer.from(html) }]]);
}
