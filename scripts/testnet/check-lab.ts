// Real check servers in a TestNetwork's sites namespace, for the TCP, HTTP(S) and DNS check methods
// (issue 15), and the switches that break each one while ICMP keeps answering.
//
//   net namespace (lo):  198.51.100.80  web: http :80, https :443 (a certificate of the lab's own
//                                        CA, for check.example.net and 198.51.100.80), tcp :7
//                        198.51.100.53  dns: Debian's dnsmasq, answering for example.net only
//   (with ipv6: 2001:db8:ff::80 and 2001:db8:ff::53 as well)
//
// The web server is check-server.mjs under plain node (endpoints and behaviours there); dnsmasq
// runs with --no-resolv, no hosts file, no DHCP, its own pid and log file. Each operator namespace
// gets an nft table `netgwm_lab` counting what the router sends through it (TCP and UDP, by local
// port: one counter per gateway's probe port range, one for every other port) and holding the
// operator's switches (TCP ports dropped); the net namespace's holds the site-wide ones. Both are
// apart from network.ts's own table, so failOperator() and the lab never undo each other.
//
// Everything (processes, tables, the lab's directory with keys and logs) goes with the network:
// TestNetwork.destroy() destroys the lab first, also when a test failed.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { lines, type NetworkPart, run, type TestNetwork } from './network.js';

export const WEB_IP = '198.51.100.80';
export const DNS_IP = '198.51.100.53';
export const WEB_IP6 = '2001:db8:ff::80';
export const DNS_IP6 = '2001:db8:ff::53';
export const HTTP_PORT = 80;
export const HTTPS_PORT = 443;
/** The plain TCP service (it says hello and closes). */
export const TCP_PORT = 7;
/** A port nothing listens on: a connection is refused (RST), which a tcp check counts as reachable. */
export const CLOSED_PORT = 9;
/** The web server's name: in its certificate and in the DNS zone. */
export const WEB_HOST = 'check.example.net';
/** Resolves to the web server too, but is not in its certificate. */
export const WRONG_NAME_HOST = 'other.example.net';
/** Where the `redirect` behaviour sends a client (check-server.mjs). */
export const PORTAL_HOST = 'portal.example.net';
/** A name only for dns checks (A and AAAA records). */
export const DNS_CHECK_NAME = 'probe.example.net';
/** The zone dnsmasq answers for (and nothing else: no upstream). */
export const ZONE = 'example.net';

/** What check-server.mjs does at a path: an HTTP status (`'204'`, `'500'`…) or a misbehaviour. */
export type HttpBehaviour = `${number}` | 'redirect' | 'endless-body' | 'huge-headers' | 'endless-status-line' | 'slow-first-byte' | 'hang';

/** The endpoints and what each does unless setHttpBehaviour() says otherwise. */
export const ENDPOINTS = {
  generate204: '/generate_204', // 204
  ok: '/ok', // 200
  error: '/error', // 500
  portal: '/portal', // 302 to http://portal.example.net/login
  endless: '/endless', // 200, a body that never ends
  hugeHeaders: '/huge-headers', // a 204 status line, 1 MiB of header lines, then the end
  endlessStatus: '/endless-status', // `HTTP/1.1 204 ` and then reason-phrase bytes for ever
  slow: '/slow', // a 204 after 120 s
  hang: '/hang', // never a byte
} as const;

export type Protocol = 'tcp' | 'udp';

/** Where a port is dropped: in operator i's forward path (that uplink only) or at the sites (every uplink). */
export type Where = { operator: number } | 'sites';

export interface LabOptions {
  /** Start of the probe port ranges (netgwm's probe.port_base), for the traffic counters; default 61000. */
  portBase?: number;
  /** Ports per gateway; default 64. */
  portsPerGateway?: number;
}

/** What went through one operator from the router (TCP and UDP packets, ICMP not counted). */
export interface OperatorTraffic {
  /** Packets from gateway j's probe port range, at index j-1. */
  probes: number[];
  /** Packets from any other local port: the router's ordinary traffic. */
  other: number;
}

export interface RequestLogEntry {
  /** `http ADDRESS PORT` or `https ADDRESS PORT`. */
  server: string;
  path: string;
  behaviour: string;
  host?: string;
  remoteAddress: string;
  remotePort: number;
}

const SERVER_PROGRAM = fileURLToPath(new URL('./check-server.mjs', import.meta.url));
const LAB_TABLE = 'netgwm_lab';
const OPERATOR_ROUTER_DEV = 'to-router';
const HANG_GUARD_MS = 30_000;
const POLL_MS = 50;
// Certificates are valid for 30 days: tests move netgwm's wall clock on by minutes, never days.
const CERT_DAYS = '30';

export class CheckLab implements NetworkPart {
  readonly webIp = WEB_IP;
  readonly dnsIp = DNS_IP;
  readonly webIp6?: string;
  readonly dnsIp6?: string;
  /** The lab CA's certificate: give it to netgwm as NODE_EXTRA_CA_CERTS so a checked certificate passes. */
  readonly caFile: string;
  private web?: ChildProcess;
  private dns?: ChildProcess;
  /** Per namespace, what is dropped there: `tcp 443`, `udp 53`. */
  private readonly blocked = new Map<string, Set<string>>();
  private destroyed = false;

  private constructor(
    readonly net: TestNetwork,
    readonly dir: string,
    private readonly portBase: number,
    private readonly portsPerGateway: number,
  ) {
    this.caFile = join(dir, 'ca.pem');
    if (net.ipv6) {
      this.webIp6 = WEB_IP6;
      this.dnsIp6 = DNS_IP6;
    }
  }

  /** Adds the servers' addresses, makes the certificates, starts every server and waits until each answers. */
  static async start(net: TestNetwork, options: LabOptions = {}): Promise<CheckLab> {
    const lab = new CheckLab(net, mkdtempSync(join(tmpdir(), 'netgwm-lab-')), options.portBase ?? 61000, options.portsPerGateway ?? 64);
    net.attach(lab);
    const addresses = [`${WEB_IP}/32`, `${DNS_IP}/32`, ...(net.ipv6 ? [`${WEB_IP6}/128`, `${DNS_IP6}/128`] : [])];
    await run('ip', ['-n', net.netNs, '-batch', '-'], { input: lines(addresses.map((address) => `addr add ${address} dev lo`)) });
    await Promise.all([lab.makeCertificates(), lab.applyTables()]);
    await Promise.all([lab.startWeb(), lab.startDns()]);
    return lab;
  }

  /** `http(s)://HOST/PATH`; the host defaults to the web server's name. */
  url(path: string, options: { tls?: boolean; host?: string } = {}): string {
    const host = options.host ?? WEB_HOST;
    return `${options.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}${path}`;
  }

  // ---- the web server ----

  /**
   * Makes `path` behave as `behaviour` on the HTTP and the HTTPS server from the next request on
   * (undefined: its default again): for every client, or with `uplink` only for requests that
   * came through uplink i (from the router's address on it), as if that operator's transparent
   * proxy answered them. A behaviour for every client replaces the uplinks' ones.
   */
  async setHttpBehaviour(path: string, behaviour: HttpBehaviour | undefined, options: { uplink?: number } = {}): Promise<void> {
    const control = join(this.dir, 'control.json');
    const current = JSON.parse(await readFile(control, 'utf8').catch(() => '{}')) as Record<string, string | Record<string, string>>;
    if (options.uplink === undefined) {
      if (behaviour === undefined) delete current[path];
      else current[path] = behaviour;
    } else {
      const uplink = this.net.uplink(options.uplink);
      const byClient = typeof current[path] === 'object' ? { ...current[path] } : {};
      for (const address of [uplink.routerIp, uplink.routerIp6].filter((address) => address !== undefined)) {
        if (behaviour === undefined) delete byClient[address];
        else byClient[address] = behaviour;
      }
      current[path] = byClient;
    }
    // Written aside and renamed, so the server never reads half a file.
    await writeFile(`${control}.new`, JSON.stringify(current));
    await rename(`${control}.new`, control);
  }

  /** Every request the web servers got so far, oldest first. */
  async requests(): Promise<RequestLogEntry[]> {
    const text = await readFile(join(this.dir, 'requests.jsonl'), 'utf8').catch(() => '');
    return text
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as RequestLogEntry);
  }

  // ---- the DNS server ----

  /** Starts dnsmasq (if it is not running) and waits until it answers. */
  async startDns(): Promise<void> {
    if (this.dns && this.dns.exitCode === null && this.dns.signalCode === null) return;
    const records = [WEB_HOST, WRONG_NAME_HOST, PORTAL_HOST].map(
      (name) => `--host-record=${name},${WEB_IP}${this.net.ipv6 ? `,${WEB_IP6}` : ''}`,
    );
    const listen = [DNS_IP, ...(this.net.ipv6 ? [DNS_IP6] : [])].map((address) => `--listen-address=${address}`);
    this.dns = this.net.spawn(this.net.netNs, 'dnsmasq', [
      ...['--keep-in-foreground', '--conf-file=/dev/null', '--no-hosts', '--no-resolv', '--port=53', '--bind-interfaces'],
      ...listen,
      '--user=root',
      `--pid-file=${join(this.dir, 'dnsmasq.pid')}`,
      `--log-facility=${join(this.dir, 'dnsmasq.log')}`,
      '--log-queries',
      // Names of the zone without a record are answered NXDOMAIN here, never sent anywhere.
      `--local=/${ZONE}/`,
      ...records,
      `--host-record=${DNS_CHECK_NAME},${this.net.sites[0]}${this.net.ipv6 ? `,${this.net.sites6[0]}` : ''}`,
    ]);
    const answers = await waitUntil(async () => (await this.resolve(DNS_CHECK_NAME, { timeoutMs: 1000 })).length > 0);
    if (!answers) throw new Error(`dnsmasq in ${this.net.netNs} does not answer (see ${join(this.dir, 'dnsmasq.log')})`);
  }

  /** Stops dnsmasq (the DNS server is gone: queries time out while ICMP still answers). */
  async stopDns(): Promise<void> {
    await stopChild(this.dns);
    this.dns = undefined;
  }

  /**
   * Asks the lab's DNS server for `name` from the net namespace (or `from`) with Node's resolver:
   * the addresses, or [] when there was no answer within `timeoutMs`.
   */
  async resolve(
    name: string,
    options: { type?: 'A' | 'AAAA'; from?: string; server?: string; timeoutMs?: number } = {},
  ): Promise<string[]> {
    const type = options.type ?? 'A';
    const server = options.server ?? DNS_IP;
    const timeoutMs = options.timeoutMs ?? 1000;
    const script = `const { Resolver } = require('node:dns').promises;
const resolver = new Resolver({ timeout: ${timeoutMs}, tries: 1 });
resolver.setServers([${JSON.stringify(server)}]);
resolver.resolve(${JSON.stringify(name)}, ${JSON.stringify(type)}).then((a) => console.log(JSON.stringify(a)), (e) => console.log(JSON.stringify(e.code)));`;
    const result = await this.net.exec(options.from ?? this.net.netNs, process.execPath, ['-e', script], {
      reject: false,
      timeoutMs: HANG_GUARD_MS,
    });
    const answer = JSON.parse(result.stdout.trim() || '""') as string[] | string;
    return Array.isArray(answer) ? answer : [];
  }

  // ---- switches and counters ----

  /**
   * Drops packets to `protocol` port `port` (TCP SYNs included) at `where`: connections and
   * queries time out while ICMP still answers. Idempotent.
   */
  async block(protocol: Protocol, port: number, where: Where): Promise<void> {
    const ns = this.namespaceOf(where);
    const ports = this.blocked.get(ns) ?? new Set<string>();
    ports.add(`${protocol} ${port}`);
    this.blocked.set(ns, ports);
    await this.applyTable(ns);
  }

  /** Lets `protocol` port `port` through at `where` again. Idempotent. */
  async unblock(protocol: Protocol, port: number, where: Where): Promise<void> {
    const ns = this.namespaceOf(where);
    this.blocked.get(ns)?.delete(`${protocol} ${port}`);
    await this.applyTable(ns);
  }

  /** Removes every block and puts every endpoint back to its default behaviour; dnsmasq runs. */
  async reset(): Promise<void> {
    this.blocked.clear();
    await rm(join(this.dir, 'control.json'), { force: true });
    await Promise.all([this.applyTables(), this.startDns()]);
  }

  /** What went through operator i from the router so far. */
  async traffic(operator: number): Promise<OperatorTraffic> {
    const ns = this.net.uplink(operator).operatorNs;
    const { stdout } = await run('ip', ['netns', 'exec', ns, 'nft', '-j', 'list', 'chain', 'inet', LAB_TABLE, 'count']);
    const traffic: OperatorTraffic = { probes: this.net.uplinks.map(() => 0), other: 0 };
    for (const rule of nftRules(stdout)) {
      const packets = rule.expr?.find((expression) => expression.counter)?.counter?.packets ?? 0;
      const gateway = /^gateway (\d+)$/.exec(rule.comment ?? '');
      if (gateway) traffic.probes[Number(gateway[1]) - 1] = packets;
      else if (rule.comment === 'other') traffic.other = packets;
    }
    return traffic;
  }

  /** Zeroes every operator's counters (the count chains are written anew: nft 1.0.6 resets only named counters). */
  async resetTraffic(): Promise<void> {
    await Promise.all(
      this.net.uplinks.map((uplink) =>
        run('ip', ['netns', 'exec', uplink.operatorNs, 'nft', '-f', '-'], { input: lines(this.countChain()) }),
      ),
    );
  }

  /** The local ports of gateway j's probes (netgwm's probe.port_base + (j-1)·64 …). */
  portRange(gateway: number): { from: number; to: number } {
    const from = this.portBase + (gateway - 1) * this.portsPerGateway;
    return { from, to: from + this.portsPerGateway - 1 };
  }

  // ---- cleaning up ----

  /** Stops the servers and removes the lab's directory; the namespaces (and the tables) go with the network. Never throws. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    await Promise.all([stopChild(this.web), stopChild(this.dns)]);
    await rm(this.dir, { recursive: true, force: true }).catch(() => undefined);
  }

  destroySync(): void {
    this.destroyed = true;
    for (const child of [this.web, this.dns]) child?.kill('SIGKILL');
    try {
      rmSync(this.dir, { recursive: true, force: true });
    } catch {
      // best effort at exit
    }
  }

  // ---- starting ----

  private async makeCertificates(): Promise<void> {
    const path = (name: string) => join(this.dir, name);
    const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    await run('openssl', [
      'req',
      '-x509',
      ...ecKey,
      '-keyout',
      path('ca.key'),
      '-out',
      this.caFile,
      '-days',
      CERT_DAYS,
      '-subj',
      '/CN=netgwm lab CA',
    ]);
    await run('openssl', ['req', ...ecKey, '-keyout', path('server.key'), '-out', path('server.csr'), '-subj', `/CN=${WEB_HOST}`]);
    const names = [`DNS:${WEB_HOST}`, `IP:${WEB_IP}`, ...(this.net.ipv6 ? [`IP:${WEB_IP6}`] : [])];
    await writeFile(
      path('server.ext'),
      `basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=${names.join(',')}\n`,
    );
    await run('openssl', [
      ...['x509', '-req', '-in', path('server.csr'), '-CA', this.caFile, '-CAkey', path('ca.key'), '-CAcreateserial'],
      ...['-out', path('server.pem'), '-days', CERT_DAYS, '-extfile', path('server.ext')],
    ]);
  }

  private async startWeb(): Promise<void> {
    const listen = (port: number) => [WEB_IP, ...(this.net.ipv6 ? [WEB_IP6] : [])].map((address) => `${address} ${port}`);
    const config = {
      http: listen(HTTP_PORT),
      https: listen(HTTPS_PORT),
      tcp: listen(TCP_PORT),
      key: join(this.dir, 'server.key'),
      cert: join(this.dir, 'server.pem'),
      control: join(this.dir, 'control.json'),
      requestLog: join(this.dir, 'requests.jsonl'),
    };
    const web = this.net.spawn(this.net.netNs, process.execPath, [SERVER_PROGRAM, JSON.stringify(config)], { output: 'pipe' });
    this.web = web;
    let output = '';
    web.stdout?.on('data', (data: Buffer) => {
      output += data.toString();
    });
    web.stderr?.on('data', (data: Buffer) => {
      output += data.toString();
    });
    const listening = await waitUntil(() => output.includes('"listening"') || web.exitCode !== null);
    if (!listening || web.exitCode !== null || output.includes('"error"')) throw new Error(`the lab's web server did not start: ${output}`);
  }

  // ---- nft ----

  private namespaceOf(where: Where): string {
    return where === 'sites' ? this.net.netNs : this.net.uplink(where.operator).operatorNs;
  }

  private applyTables(): Promise<unknown> {
    return Promise.all([this.net.netNs, ...this.net.uplinks.map((uplink) => uplink.operatorNs)].map((ns) => this.applyTable(ns)));
  }

  // Rewrites the namespace's lab table from the lab's state in one transaction (idempotent). The
  // counters are kept: only the switches' chain is flushed.
  private async applyTable(ns: string): Promise<void> {
    const isSites = ns === this.net.netNs;
    const hook = isSites ? 'input' : 'forward';
    const blocked = [...(this.blocked.get(ns) ?? [])].sort();
    const commands = [
      `add table inet ${LAB_TABLE}`,
      // Before network.ts's own chains (priority 0): a switch here is the only reason for a drop.
      `add chain inet ${LAB_TABLE} switches { type filter hook ${hook} priority -5 ; policy accept ; }`,
      `flush chain inet ${LAB_TABLE} switches`,
      ...blocked.map((entry) => `add rule inet ${LAB_TABLE} switches ${entry.replace(' ', ' dport ')} drop`),
    ];
    if (!isSites && !(await this.hasCountChain(ns))) commands.push(...this.countChain());
    await run('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], { input: lines(commands) });
  }

  // Counted first (priority -10), before any drop: what the router sent through this operator.
  private countChain(): string[] {
    const from = `iifname "${OPERATOR_ROUTER_DEV}" meta l4proto { tcp, udp }`;
    const all = `${this.portRange(1).from}-${this.portRange(this.net.uplinks.length).to}`;
    return [
      `add table inet ${LAB_TABLE}`,
      `add chain inet ${LAB_TABLE} count { type filter hook forward priority -10 ; policy accept ; }`,
      `flush chain inet ${LAB_TABLE} count`,
      ...this.net.uplinks.map((uplink) => {
        const range = this.portRange(uplink.index);
        return `add rule inet ${LAB_TABLE} count ${from} th sport ${range.from}-${range.to} counter comment "gateway ${uplink.index}"`;
      }),
      `add rule inet ${LAB_TABLE} count ${from} th sport != ${all} counter comment "other"`,
    ];
  }

  private async hasCountChain(ns: string): Promise<boolean> {
    const result = await run('ip', ['netns', 'exec', ns, 'nft', 'list', 'chain', 'inet', LAB_TABLE, 'count'], { reject: false });
    return result.exitCode === 0;
  }
}

interface NftRule {
  comment?: string;
  expr?: Array<{ counter?: { packets: number } }>;
}

function nftRules(json: string): NftRule[] {
  const parsed = JSON.parse(json) as { nftables: Array<{ rule?: NftRule }> };
  return parsed.nftables.flatMap((entry) => (entry.rule ? [entry.rule] : []));
}

async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  child.kill('SIGTERM');
  if (!(await waitUntil(() => child.exitCode !== null || child.signalCode !== null, 5000))) child.kill('SIGKILL');
  await Promise.race([exited, new Promise((done) => setTimeout(done, 5000).unref())]);
}

/** Polls `check` every 50 ms until it is true or `ms` (a hang guard) passed; returns whether it became true. */
async function waitUntil(check: () => boolean | Promise<boolean>, ms = HANG_GUARD_MS): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (let tries = Math.ceil(ms / POLL_MS); tries > 0 && Date.now() < deadline; tries--) {
    if (await check()) return true;
    await new Promise((done) => setTimeout(done, POLL_MS));
  }
  return check();
}
