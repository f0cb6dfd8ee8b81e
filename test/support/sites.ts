// Check sites with a method as the config compiles them, for tests that need one ready-made.
import type { HttpSite } from '../../src/core/check-site.js';

const GENERATE_204 = 'http://check.example.net/generate_204';

/** `{http: http://check.example.net/generate_204, expect: 204}` at the defaults, with `extra` over them. */
export function generate204Site(extra: Partial<HttpSite> = {}): HttpSite {
  return {
    method: 'http',
    key: GENERATE_204,
    url: GENERATE_204,
    host: 'check.example.net',
    port: 80,
    tls: false,
    insecure: false,
    expect: 204,
    intervalMs: 5000,
    timeoutMs: 2000,
    ...extra,
  };
}
