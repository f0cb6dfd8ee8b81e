// One probe of a check site with a method (tcp, http, dns) through one gateway. Node's sockets
// cannot carry the probe mark, so every socket of the probe (the name lookup's too) is bound to
// a local port of the gateway's range, which `ip rule sport … lookup PROBE_TABLE` routes through
// the gateway (src/core/probe-paths.ts); nothing else is diverted.
//
// Bounded: the whole probe ends at `timeoutMs` or when `signal` aborts, and every socket it made
// is closed then (TCP with a reset, so that no TIME_WAIT holds a port of the range). An HTTP
// response is read only up to its status line (and, for a redirect, its Location), at most
// MAX_HEAD_BYTES: a never-ending body or endless headers cost at most that much memory and
// the timeout. Never rejects: every failure is a result with a one-line `error`.
//
// What counts as answered:
// - tcp: the connection was accepted, or refused (a reset from the host proves the path works);
// - http(s): the status is `expect`, or any 2xx without it; a redirect is not (a captive portal
//   redirects everything), unless it is exactly `expect`. The certificate is checked (against the
//   URL's host, sent as SNI) unless `insecure`;
// - dns: an answer NOERROR (with or without records) or NXDOMAIN: the server worked; SERVFAIL,
//   REFUSED and the other codes are failures (an upstream outage behind a resolver gives SERVFAIL).
import { isIP, type Socket } from 'node:net';
import type { DnsSite, MethodSite, TcpSite } from '../core/check-site.js';
import { escapeControl } from '../log/escape.js';
import { queryDns, resolveName } from './dns-client.js';
import { requestHead } from './http-head.js';
import { closeTcp, connectTcp } from './local-port.js';

export interface SiteProbePath {
  family: 4 | 6;
  ports: { from: number; to: number };
}

export interface SiteProbeResult {
  answered: boolean;
  /** connect time (tcp), time to the response status line (http), answer time (dns), ms */
  rttMs?: number;
  /** why not answered, one short line: 'timeout', 'HTTP 500, expected 204', 'redirect to http://portal.example/ (captive portal?)', 'cannot resolve check.example.net: NXDOMAIN from 198.51.100.53', 'SERVFAIL' … */
  error?: string;
}

export interface SiteProbeOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  /** Tests point them elsewhere: /etc/resolv.conf, and port 53 of the DNS servers. */
  resolvConf?: string;
  dnsPort?: number;
}

/** The TCP sockets one probe made, all closed when it ends (a DNS query closes its UDP socket itself). */
export class ProbeSockets {
  private readonly tcp: Socket[] = [];
  /** Streams over a TCP socket (TLS): destroyed after it was reset. */
  private readonly layers: Array<{ destroy(): void }> = [];
  addTcp = (socket: Socket) => void this.tcp.push(socket);
  addLayer = (stream: { destroy(): void }) => void this.layers.push(stream);
  closeAll(): void {
    for (const socket of this.tcp.splice(0)) closeTcp(socket);
    for (const stream of this.layers.splice(0)) stream.destroy();
  }
}

/** What each method gets: the site, where it goes out, the probe's signal and its sockets. */
export interface ProbeContext {
  path: SiteProbePath;
  signal: AbortSignal;
  sockets: ProbeSockets;
  resolvConf?: string;
  dnsPort?: number;
}

export async function probeSite(site: MethodSite, path: SiteProbePath, options: SiteProbeOptions): Promise<SiteProbeResult> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error('timeout')), options.timeoutMs);
  const cancel = () => controller.abort(new Error('cancelled'));
  if (options.signal?.aborted) cancel();
  else options.signal?.addEventListener('abort', cancel, { once: true });
  const context: ProbeContext = {
    path,
    signal: controller.signal,
    sockets: new ProbeSockets(),
    resolvConf: options.resolvConf,
    dnsPort: options.dnsPort,
  };
  try {
    controller.signal.throwIfAborted();
    return await raceAbort(probeBy(site, context), controller.signal);
  } catch (error) {
    return { answered: false, error: oneLine(error) };
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', cancel);
    if (!controller.signal.aborted) controller.abort(new Error('done'));
    context.sockets.closeAll();
  }
}

function probeBy(site: MethodSite, context: ProbeContext): Promise<SiteProbeResult> {
  switch (site.method) {
    case 'tcp':
      return probeTcp(site, context);
    case 'http':
      return requestHead(site, context, (host) => addressOf(host, site.server, context));
    case 'dns':
      return probeDns(site, context);
  }
}

async function probeTcp(site: TcpSite, context: ProbeContext): Promise<SiteProbeResult> {
  const address = await addressOf(site.host, undefined, context);
  const { connectMs } = await connectTcp(address, site.port, context.path.ports, context.signal, context.sockets.addTcp);
  return { answered: true, rttMs: connectMs };
}

async function probeDns(site: DnsSite, context: ProbeContext): Promise<SiteProbeResult> {
  const { path, signal, dnsPort: port } = context;
  const answer = await queryDns({ server: site.server, name: site.name, type: site.type, ports: path.ports, signal, port });
  if (answer.rcode === 'NOERROR' || answer.rcode === 'NXDOMAIN') return { answered: true, rttMs: answer.rttMs };
  return { answered: false, error: answer.rcode };
}

/** `host` itself when it is an address, else its address through the gateway (A or AAAA by the path's family). */
export function addressOf(host: string, server: string | undefined, context: ProbeContext): Promise<string> {
  if (isIP(host)) return Promise.resolve(host);
  const { path, signal, resolvConf, dnsPort: port } = context;
  return resolveName({ name: host, family: path.family, server, ports: path.ports, signal, resolvConf, port });
}

/** Settles with `work`, or rejects with the signal's reason as soon as it aborts (whatever `work` still waits for). */
function raceAbort<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise((resolve, reject) => {
    // After the microtasks: a `work` that ends on the same abort with a better reason (a DNS reply it ignored) is heard first.
    const abort = () => setImmediate(() => reject(signal.reason));
    signal.addEventListener('abort', abort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', abort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', abort);
        reject(error);
      },
    );
  });
}

const MAX_ERROR_CHARS = 200;

/** An error as one short line (control characters escaped), at most MAX_ERROR_CHARS. */
export function oneLine(error: unknown): string {
  const text = escapeControl((error instanceof Error ? error.message : String(error)).trim());
  return text.length > MAX_ERROR_CHARS ? `${text.slice(0, MAX_ERROR_CHARS - 1)}…` : text || 'failed';
}
