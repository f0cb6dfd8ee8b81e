// A DNS client for the probes, over one UDP socket bound to a port of the gateway's probe range,
// so that the query and its answer go through the gateway under test (c-ares and getaddrinfo
// choose their own ports, which would follow the main table). One datagram, no retry: like an
// echo, a lost query is a lost probe.
//
// The socket is connected to the server: the kernel passes on only the server's datagrams, and
// an ICMP port unreachable (no DNS server there) ends the query at once. A datagram that is not
// the answer (another id or question, malformed) is ignored, and named if nothing better comes
// before the timeout.
//
// Host names of tcp and http sites are resolved the same way, by the site's `server` or the
// nameservers of /etc/resolv.conf (`ip netns exec` shows /etc/netns/NS/resolv.conf there),
// except loopback ones: a local resolver (systemd-resolved's 127.0.0.53, dnsmasq) would ask its
// upstream through the main table, not through the gateway under test. /etc/hosts is not read:
// the lookup is part of what is probed.
import { randomInt } from 'node:crypto';
import type { Socket as UdpSocket } from 'node:dgram';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import type { DnsType } from '../core/check-site.js';
import type { PortRange } from '../core/probe-paths.js';
import { encodeQuery, parseReply, type DnsQuestion, type DnsReply } from './dns-message.js';
import { closeUdp, connectUdp } from './local-port.js';

const DNS_PORT = 53;
/** resolv(5): at most 3 nameservers are used. */
const MAX_NAMESERVERS = 3;
const RESOLV_CONF = '/etc/resolv.conf';

export interface DnsAnswer extends DnsReply {
  /** From sending the query to its answer. */
  rttMs: number;
}

export interface DnsQuery {
  server: string;
  name: string;
  type: DnsType;
  ports: PortRange;
  signal: AbortSignal;
  /** 53 but in tests. */
  port?: number;
}

/** Asks `server` once; rejects when no answer came (the signal's reason, or why). */
export async function queryDns(query: DnsQuery): Promise<DnsAnswer> {
  const question: DnsQuestion = { id: randomInt(0x10000), name: query.name, type: query.type };
  const message = encodeQuery(question);
  let socket: UdpSocket | undefined;
  try {
    socket = await connectUdp(query.server, query.port ?? DNS_PORT, query.ports, query.signal, (made) => {
      socket = made;
    });
    return await answerTo(socket, message, question, query.signal);
  } finally {
    if (socket) closeUdp(socket);
  }
}

function answerTo(socket: UdpSocket, message: Buffer, question: DnsQuestion, signal: AbortSignal): Promise<DnsAnswer> {
  return new Promise((resolve, reject) => {
    let ignored: string | undefined;
    const sent = performance.now();
    const finish = (error: Error | undefined, answer?: DnsAnswer) => {
      signal.removeEventListener('abort', abort);
      socket.removeListener('message', receive);
      socket.removeListener('error', failed);
      if (error) reject(error);
      else resolve(answer!);
    };
    const receive = (datagram: Buffer) => {
      const reply = parseReply(datagram, question);
      if ('refused' in reply) ignored = reply.refused;
      else finish(undefined, { ...reply, rttMs: performance.now() - sent });
    };
    const failed = (error: NodeJS.ErrnoException) =>
      finish(new Error(error.code === 'ECONNREFUSED' ? 'port unreachable (no DNS server there)' : error.message));
    const abort = () => {
      const reason = signal.reason instanceof Error ? signal.reason.message : String(signal.reason);
      finish(new Error(ignored ? `${reason} (ignored a ${ignored})` : reason));
    };
    signal.addEventListener('abort', abort, { once: true });
    socket.on('message', receive);
    socket.on('error', failed);
    socket.send(message, (error) => {
      if (error) failed(error);
    });
  });
}

/** The nameservers of resolv.conf to use for `family` (4: IPv4 ones first, 6: IPv6 ones first), without loopback ones. */
export async function nameservers(family: 4 | 6, file = RESOLV_CONF): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return [];
  }
  const all = [...text.matchAll(/^\s*nameserver\s+(\S+)/gm)]
    .map((match) => match[1]!)
    .filter((server) => isIP(server) !== 0 && !isLoopback(server))
    .slice(0, MAX_NAMESERVERS);
  return [...all.filter((server) => isIP(server) === family), ...all.filter((server) => isIP(server) !== family)];
}

const isLoopback = (address: string) => address.startsWith('127.') || address === '::1' || /^::ffff:127\./i.test(address);

export interface ResolveRequest {
  name: string;
  family: 4 | 6;
  /** The site's `server`; absent: resolv.conf's. */
  server?: string;
  ports: PortRange;
  signal: AbortSignal;
  /** Tests point them elsewhere. */
  resolvConf?: string;
  port?: number;
}

/**
 * The first address of `name` (A for family 4, AAAA for 6), asking every nameserver at once and
 * taking the first that gives one; rejects with why none did.
 */
export async function resolveName(request: ResolveRequest): Promise<string> {
  const servers = request.server ? [request.server] : await nameservers(request.family, request.resolvConf);
  if (servers.length === 0)
    throw new Error(
      `no DNS server for ${request.name}: ${request.resolvConf ?? RESOLV_CONF} names none but loopback ones; give the site a \`server\``,
    );
  const type = request.family === 6 ? 'AAAA' : 'A';
  const lookups = servers.map(async (server) => {
    const answer = await queryDns({ server, name: request.name, type, ports: request.ports, signal: request.signal, port: request.port });
    if (answer.addresses.length > 0) return answer.addresses[0]!;
    throw new Error(answer.rcode === 'NOERROR' ? `no ${type} record` : `${answer.rcode} from ${server}`);
  });
  try {
    return await Promise.any(lookups);
  } catch (error) {
    const first = (error as AggregateError).errors[0] as Error;
    throw new Error(`cannot resolve ${request.name}: ${first.message}`);
  }
}
