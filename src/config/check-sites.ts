// Check sites that can never test an uplink: the router answers them itself (loopback,
// "this host", localhost), they are no single host (multicast, broadcast), or the probes cannot
// reach them through a gateway (an IPv6 link-local address). Such a site
// makes every gateway look up while every uplink is dead. Checked on the config text at load
// time and on the address a host name resolves to at every cycle (see src/probe/resolve.ts).
import { isIP } from 'node:net';
import {
  DNS_TYPES,
  siteMethod,
  type DnsSite,
  type DnsType,
  type HttpSite,
  type MethodSite,
  type SitePace,
  type TcpSite,
} from '../core/check-site.js';

const ANSWERED_LOCALLY = 'the router answers it itself, so every gateway would look up';

/**
 * Why an IPv4 or IPv6 address can never test an uplink (`not …`), or undefined when it can.
 * `own`: the router's own addresses, known only at run time.
 */
export function unusableAddress(address: string, own: ReadonlySet<string> = new Set()): string | undefined {
  if (own.has(address)) return `not an address of this router (${ANSWERED_LOCALLY})`;
  if (isIP(address) === 6) return unusableAddress6(address);
  const first = Number(address.split('.')[0]);
  if (first === 127) return `not a loopback address (${ANSWERED_LOCALLY})`;
  if (first === 0) return `not an unspecified address (${ANSWERED_LOCALLY})`;
  if (first >= 224 && first <= 239) return 'not a multicast address (it is no single host behind an uplink)';
  if (address === '255.255.255.255') return 'not the broadcast address (it is no single host behind an uplink)';
  return undefined;
}

/** Why a check site as written in the config can never test an uplink (`not …`), or undefined. */
export function unusableSite(site: string): string | undefined {
  const family = isIP(site);
  if (family === 4) return unusableAddress(site);
  if (family === 6) return unusableAddress6(site);
  const name = site.toLowerCase().replace(/\.$/, '');
  // RFC 6761: localhost and every name under it are the host itself.
  if (name === 'localhost' || name.endsWith('.localhost')) return `not localhost (${ANSWERED_LOCALLY})`;
  return undefined;
}

function unusableAddress6(address: string): string | undefined {
  // The URL parser writes an IPv6 address in its one canonical form (`0:0::1` is `::1`).
  const canonical = new URL(`http://[${address}]/`).hostname.slice(1, -1);
  const first = canonical.startsWith('::') ? 0 : Number.parseInt(canonical.split(':')[0]!, 16);
  if (canonical === '::1') return `not a loopback address (${ANSWERED_LOCALLY})`;
  if (canonical === '::') return `not an unspecified address (${ANSWERED_LOCALLY})`;
  if (first >= 0xff00) return 'not a multicast address (it is no single host behind an uplink)';
  if (first >= 0xfe80 && first <= 0xfebf) return "not a link-local address (it is on one of the router's own links, not behind a gateway)";
  if (canonical.startsWith('::ffff:')) return 'not an IPv4-mapped IPv6 address (write the IPv4 address itself)';
  return undefined;
}

/** The address families a check site can be probed over: its own for an address, both for a host name. */
export function siteFamilies(site: string): Array<4 | 6> {
  const family = isIP(site);
  return family === 0 ? [4, 6] : [family as 4 | 6];
}

// Check sites with a method: `{tcp: HOST:PORT}`, `{http: URL, expect, insecure, server}`,
// `{dns: NAME, server, type}`, each with an optional `timeout` and `interval` (seconds). Checked
// and compiled here at load time, so a probe never meets a malformed URL, port or server.

/**
 * Defaults of a method site's pace: at least these seconds, or `probe.interval` / `probe.timeout`
 * when longer. A TCP connect or an HTTP request costs the check site far more than an echo, and
 * needs time for a lost SYN to be sent again (Linux retries after 1 s).
 */
export const METHOD_DEFAULTS = { intervalS: 5, timeoutS: 2 } as const;
/** Bounds of a method site's own `interval` and `timeout`, seconds. */
export const METHOD_LIMITS = { minIntervalS: 0.5, maxIntervalS: 3600, maxTimeoutS: 30 } as const;

const METHOD_KEYS = {
  tcp: ['tcp', 'timeout', 'interval'],
  http: ['http', 'expect', 'insecure', 'server', 'timeout', 'interval'],
  dns: ['dns', 'server', 'type', 'timeout', 'interval'],
} as const;
type Method = keyof typeof METHOD_KEYS;
const METHODS = Object.keys(METHOD_KEYS) as Method[];

const HOST_NAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.?$/i;
/** A name a DNS check may ask about: labels of letters, digits, `-` and `_` (`_dmarc.example.org`). */
const DNS_NAME = /^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$/i;
const MAX_URL_LENGTH = 2048;

export interface CompiledSites {
  /** Every site's key, in file order: a pinged site as written, a method site's key. */
  keys: string[];
  /** Plain addresses and host names: pinged, as NetGWM did. */
  icmp: string[];
  /** The mappings, in file order. */
  methods: MethodSite[];
  /** `[key.path, message]` pairs; empty when every entry is usable. */
  problems: Array<[string, string]>;
}

/** Splits `check_sites` (as the schema let them through) into pinged sites and compiled method sites. */
export function compileCheckSites(
  entries: ReadonlyArray<string | Record<string, unknown>>,
  probe: { interval: number; timeout: number },
): CompiledSites {
  const compiled: CompiledSites = { keys: [], icmp: [], methods: [], problems: [] };
  const seen = new Map<string, number>();
  entries.forEach((entry, index) => {
    if (typeof entry === 'string') {
      compiled.keys.push(entry);
      compiled.icmp.push(entry);
      return;
    }
    const where = `check_sites.${index}`;
    const problems: Array<[string, string]> = [];
    const site = compileMethodSite(entry, where, probe, problems);
    compiled.problems.push(...problems);
    if (!site || problems.length > 0) return;
    const earlier = seen.get(site.key);
    if (earlier !== undefined) {
      compiled.problems.push([where, `the same check site as check_sites.${earlier} (${site.key}); remove one of them`]);
      return;
    }
    seen.set(site.key, index);
    compiled.keys.push(site.key);
    compiled.methods.push(site);
  });
  return compiled;
}

function compileMethodSite(
  entry: Record<string, unknown>,
  where: string,
  probe: { interval: number; timeout: number },
  problems: Array<[string, string]>,
): MethodSite | undefined {
  const methods = METHODS.filter((method) => Object.hasOwn(entry, method));
  if (methods.length !== 1) {
    const got = methods.length === 0 ? `none (keys: ${Object.keys(entry).map(quoteKey).join(', ') || 'none'})` : methods.join(' and ');
    problems.push([
      where,
      `expected one method key, tcp, http or dns (e.g. {tcp: 203.0.113.10:443}), got ${got}; write each method as an entry of its own`,
    ]);
    return undefined;
  }
  const method = methods[0]!;
  const allowed: readonly string[] = METHOD_KEYS[method];
  for (const key of Object.keys(entry)) {
    if (!allowed.includes(key))
      problems.push([`${where}.${quoteKey(key)}`, `unknown key for a ${method} check; expected ${allowed.join(', ')}`]);
  }
  const at = (key: string, message: string) => problems.push([`${where}.${key}`, message]);
  const pace = compilePace(entry, method, probe, at);
  const value = entry[method];
  if (typeof value !== 'string' || value === '') {
    at(method, `expected ${METHOD_SYNTAX[method]}, got ${describe(value)}`);
    return undefined;
  }
  if (/[\s\p{Cc}]/u.test(value)) {
    at(method, `expected ${METHOD_SYNTAX[method]} without spaces or control characters, got ${JSON.stringify(value)}`);
    return undefined;
  }
  if (method === 'tcp') return compileTcp(value, pace, at);
  if (method === 'http') return compileHttp(value, entry, pace, at);
  return compileDns(value, entry, pace, at);
}

const METHOD_SYNTAX: Record<Method, string> = {
  tcp: 'HOST:PORT (e.g. 203.0.113.10:443, "[2001:db8::10]:443" or check.example.net:80)',
  http: 'an http:// or https:// URL (e.g. "http://check.example.net/generate_204")',
  dns: 'the name to look up (e.g. example.org)',
};

type At = (key: string, message: string) => void;

function compilePace(
  entry: Record<string, unknown>,
  method: Method,
  probe: { interval: number; timeout: number },
  at: At,
): Required<SitePace> {
  const seconds = (key: 'interval' | 'timeout', min: number, max: number, fallback: number): number => {
    const value = entry[key];
    if (value === undefined) return fallback;
    if (typeof value === 'number' && Number.isFinite(value) && value >= min && value <= max && value > 0) return value;
    at(key, `expected seconds from ${min || 'above 0'} to ${max} for this ${method} check, got ${describe(value)}`);
    return fallback;
  };
  const interval = seconds(
    'interval',
    METHOD_LIMITS.minIntervalS,
    METHOD_LIMITS.maxIntervalS,
    Math.max(probe.interval, METHOD_DEFAULTS.intervalS),
  );
  const timeout = seconds('timeout', 0, METHOD_LIMITS.maxTimeoutS, Math.max(probe.timeout, METHOD_DEFAULTS.timeoutS));
  return { intervalMs: Math.round(interval * 1000), timeoutMs: Math.round(timeout * 1000) };
}

function compileTcp(value: string, pace: Required<SitePace>, at: At): TcpSite | undefined {
  const bracketed = /^\[([^\]]*)\]:(.*)$/.exec(value);
  const colon = value.lastIndexOf(':');
  const [host, port] = bracketed
    ? [bracketed[1]!, bracketed[2]!]
    : colon < 0
      ? [value, '']
      : [value.slice(0, colon), value.slice(colon + 1)];
  if (!bracketed && host.includes(':')) {
    at(
      'tcp',
      `expected an IPv6 address in brackets, e.g. "[2001:db8::10]:443" (quoted: YAML reads [ as a list), got ${JSON.stringify(value)}`,
    );
    return undefined;
  }
  if (bracketed && isIP(host) !== 6) {
    at('tcp', `expected an IPv6 address between the brackets, got ${JSON.stringify(value)}`);
    return undefined;
  }
  const problem = hostProblem(host) ?? portProblem(port);
  if (problem) {
    at('tcp', `${problem}, got ${JSON.stringify(value)}; expected ${METHOD_SYNTAX.tcp}`);
    return undefined;
  }
  return { method: 'tcp', key: `tcp:${value}`, host, port: Number(port), ...pace };
}

function compileHttp(value: string, entry: Record<string, unknown>, pace: Required<SitePace>, at: At): HttpSite | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    at('http', `expected ${METHOD_SYNTAX.http}, got ${JSON.stringify(value)}`);
    return undefined;
  }
  const tls = url.protocol === 'https:';
  const fail = (message: string) => at('http', `${message}, got ${JSON.stringify(value)}`);
  if (value.length > MAX_URL_LENGTH) fail(`expected a URL of at most ${MAX_URL_LENGTH} characters`);
  else if (url.protocol !== 'http:' && !tls) fail('expected an http:// or https:// URL');
  else if (url.username !== '' || url.password !== '')
    fail('expected a URL without a user name or password (they would be sent in clear to every uplink)');
  else if (url.hash !== '') fail('expected a URL without a #fragment (it is never sent)');
  else {
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    // The URL parser drops a scheme's default port and turns an address into its canonical form.
    const port = url.port === '' ? (tls ? 443 : 80) : Number(url.port);
    const problem = hostProblem(host) ?? (port === 0 ? 'expected a port from 1 to 65535' : undefined);
    if (problem) fail(problem);
    else {
      const site: HttpSite = { method: 'http', key: value, url: url.href, host, port, tls, insecure: false, ...pace };
      const expect = entry.expect;
      if (expect !== undefined) {
        if (typeof expect === 'number' && Number.isInteger(expect) && expect >= 200 && expect <= 599 && (expect < 300 || expect > 399))
          site.expect = expect;
        else
          at(
            'expect',
            `expected an HTTP status from 200 to 599, not a redirect (3xx: always a failure, as a captive portal answers), got ${describe(expect)}`,
          );
      }
      const insecure = entry.insecure;
      if (insecure !== undefined) {
        if (typeof insecure !== 'boolean') at('insecure', `expected true or false, got ${describe(insecure)}`);
        else if (insecure && !tls) at('insecure', 'applies to https:// URLs only (an http:// one has no certificate); remove it');
        else site.insecure = insecure;
      }
      const server = serverOf(entry, at);
      if (server && isIP(host) !== 0)
        at('server', `the URL's host is an address already, so there is no name to look up; remove the server`);
      else if (server) site.server = server;
      return site;
    }
  }
  return undefined;
}

function compileDns(value: string, entry: Record<string, unknown>, pace: Required<SitePace>, at: At): DnsSite | undefined {
  if (!DNS_NAME.test(value) || isIP(value) !== 0) {
    at('dns', `expected ${METHOD_SYNTAX.dns}: labels of letters, digits, "-" and "_", got ${JSON.stringify(value)}`);
  }
  const server = serverOf(entry, at);
  if (entry.server === undefined)
    at('server', 'missing; expected the IP address of the DNS server to ask through each gateway (e.g. server: 198.51.100.53)');
  let type: DnsType = 'A';
  if (entry.type !== undefined) {
    const written = typeof entry.type === 'string' ? entry.type.toUpperCase() : undefined;
    if (written !== undefined && (DNS_TYPES as readonly string[]).includes(written)) type = written as DnsType;
    else at('type', `expected one of ${DNS_TYPES.join(', ')}, got ${describe(entry.type)}`);
  }
  if (!server) return undefined;
  return { method: 'dns', key: `dns:${value}@${server}/${type}`, name: value, server, type, ...pace };
}

/** The `server` of an http or dns check: an IP address that can test an uplink. */
function serverOf(entry: Record<string, unknown>, at: At): string | undefined {
  const server = entry.server;
  if (server === undefined) return undefined;
  if (typeof server !== 'string' || isIP(server) === 0 || server.includes('%')) {
    at('server', `expected the IP address of a DNS server (a name would need a DNS server itself), got ${describe(server)}`);
    return undefined;
  }
  const why = unusableAddress(server);
  if (why) {
    at('server', `expected a DNS server beyond the uplinks, ${why}, got ${JSON.stringify(server)}`);
    return undefined;
  }
  return server;
}

/** Why `host` (a TCP or URL host, brackets removed) cannot be a check site; undefined when it can. */
function hostProblem(host: string): string | undefined {
  if (host === '') return 'expected a host';
  if (isIP(host) === 0 && !HOST_NAME.test(host)) return `expected an IP address or a host name as the host, not ${JSON.stringify(host)}`;
  const why = unusableSite(host);
  return why ? `expected a host beyond the uplinks, ${why}` : undefined;
}

function portProblem(port: string): string | undefined {
  if (port === '') return 'expected a port after the host';
  if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) return 'expected a port from 1 to 65535';
  return undefined;
}

/**
 * The address families a method site can be probed over: a literal host's own, both for a host
 * name; a site with a `server` only the server's (its queries go to that address).
 */
export function methodSiteFamilies(site: MethodSite): Array<4 | 6> {
  if (site.method === 'dns') return siteFamilies(site.server);
  if (site.method === 'http' && site.server !== undefined) {
    const [server] = siteFamilies(site.server);
    return siteFamilies(site.host).filter((family) => family === server);
  }
  return siteFamilies(site.host);
}

const quoteKey = (key: string) => (/^[\w.-]+$/.test(key) ? key : JSON.stringify(key));

function describe(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return JSON.stringify(value);
}

/** The sites of a config's `check_sites` (every site's key) that are pinged: the plain addresses and host names. */
export function pingedSites(keys: readonly string[]): string[] {
  return keys.filter((key) => siteMethod(key) === 'icmp');
}

/** A method site as a `check_sites` entry, with its effective timeout and interval (`check-config`). */
export function methodSiteEntry(site: MethodSite): Record<string, unknown> {
  const pace = { timeout: (site.timeoutMs ?? 0) / 1000, interval: (site.intervalMs ?? 0) / 1000 };
  if (site.method === 'tcp') return { tcp: site.key.slice('tcp:'.length), ...pace };
  if (site.method === 'dns') return { dns: site.name, server: site.server, type: site.type, ...pace };
  return {
    http: site.key,
    ...(site.expect !== undefined && { expect: site.expect }),
    ...(site.tls && { insecure: site.insecure }),
    ...(site.server !== undefined && { server: site.server }),
    ...pace,
  };
}
