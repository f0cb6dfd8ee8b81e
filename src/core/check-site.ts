// A check site and the way it is probed. Plain addresses and host names in `check_sites` are
// pinged (ICMP), as in NetGWM; a mapping picks another method: a TCP connect, an HTTP(S) request
// or a DNS query, each sent through the gateway under test (see src/probe/site-probe.ts).
// Every site has a `key`, the one string status, history, metrics, recordings and the health's
// tallies know it by; the method can be read back from the key (siteMethod).

export type ProbeMethod = 'icmp' | 'tcp' | 'http' | 'dns';

/** DNS record types a `dns` check may ask for. */
export const DNS_TYPES = ['A', 'AAAA', 'CNAME', 'MX', 'NS', 'SOA', 'TXT'] as const;
export type DnsType = (typeof DNS_TYPES)[number];

/** What every method's site may override of `probe`: ms, as compiled from the config's seconds. */
export interface SitePace {
  timeoutMs?: number;
  intervalMs?: number;
}

/** A plain address or host name: pinged. The key is the site as written. */
export interface IcmpSite {
  method: 'icmp';
  key: string;
  host: string;
}

/** `{tcp: HOST:PORT}`: reachable when the connection is accepted or refused; a timeout is not. Key `tcp:HOST:PORT`. */
export interface TcpSite extends SitePace {
  method: 'tcp';
  key: string;
  /** An IPv4/IPv6 address (without brackets) or a host name. */
  host: string;
  port: number;
}

/**
 * `{http: URL}` (http: or https:): reachable when the response's status is `expect` (or any 2xx
 * without it) within the timeout; a redirect never is (a captive portal). Key: the URL as written.
 */
export interface HttpSite extends SitePace {
  method: 'http';
  key: string;
  url: string;
  /** The URL's host (an address without brackets, or a name) and port (default by scheme). */
  host: string;
  port: number;
  tls: boolean;
  expect?: number;
  /** https only: accept any certificate. */
  insecure: boolean;
  /** The DNS server that resolves `host` (through the gateway); default: resolv.conf's. */
  server?: string;
}

/** `{dns: NAME, server: ADDRESS, type: A}`: reachable when the server answers within the timeout. Key `dns:NAME@SERVER/TYPE`. */
export interface DnsSite extends SitePace {
  method: 'dns';
  key: string;
  name: string;
  server: string;
  type: DnsType;
}

export type CheckSite = IcmpSite | TcpSite | HttpSite | DnsSite;
export type MethodSite = TcpSite | HttpSite | DnsSite;

/** The method of a site key: `tcp:…`, `dns:…`, `http(s)://…`, anything else is pinged. */
export function siteMethod(key: string): ProbeMethod {
  if (key.startsWith('tcp:')) return 'tcp';
  if (key.startsWith('dns:')) return 'dns';
  if (key.startsWith('http://') || key.startsWith('https://')) return 'http';
  return 'icmp';
}
