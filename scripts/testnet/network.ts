// A throw-away network of Linux network namespaces for end-to-end tests, the demo and benchmarks.
//
//   lan ─eth0───lan0─ router ─wan_1───to-router─ operator 1 ─to-net───op1─ net
//   203.0.113.2/24    (.1/24)  ─wan-2───to-router─ operator 2 ─to-net───op2─ (sites 198.51.100.k/32 on lo)
//                              ─wan.3───to-router─ operator 3 ─to-net───op3─
//   uplink i: router 192.0.2.(4i-2)/30, operator (gateway) 192.0.2.(4i-3)/30;
//   transit i: operator 198.18.i.2/24, net 198.18.i.1/24.
//
// With { ipv6: true } every link is dual stack (i in hex): uplink i router 2001:db8:0:i::2/64,
// operator 2001:db8:0:i::1/64 and fe80::1; transit 2001:db8:100:i::/64 (operator ::2, net ::1);
// sites 2001:db8:ff::k/128 on the net namespace's lo; LAN 2001:db8:1::/64 (router ::1, host ::2).
// The router forwards IPv6, accepts no router advertisements and keeps its IPv6 addresses while a
// link is down (as IPv4 does). Without it, IPv4 only as above.
//
// Everything lives in namespaces named after a per-run prefix, uses documentation addresses
// only, and is deleted by destroy() or, if the process dies first, by the exit/signal safety net.
// The host's own routes, rules, nftables and /etc/iproute2 are never touched.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';

export interface NetworkOptions {
  /** Number of uplinks (operators), 1–16; default 3. */
  uplinks?: number;
  /** Number of check sites, 1–4; default 2. */
  sites?: number;
  /** Namespace name prefix; default `ngw` + 6 random hex characters. */
  prefix?: string;
  /**
   * The router's reverse-path filter: 0 (Debian's default) unless a test needs another. With 2
   * (loose), replies to probes are dropped while the router has no default route at all.
   */
  rpFilter?: 0 | 1 | 2;
  /** Dual stack: every link also carries IPv6 (2001:db8::/32, see the plan above); default false. */
  ipv6?: boolean;
}

export type Family = 4 | 6;

/** Which address family an operator's failure or loss hits; absent: both. */
export interface FamilyOption {
  family?: Family;
}

export interface Uplink {
  /** 1-based, as in failOperator(i). */
  index: number;
  operatorNs: string;
  /** The operator's address on the uplink: the router's next hop. */
  gatewayIp: string;
  /** The router's address on the uplink. */
  routerIp: string;
  /** The router's device name (deliberately odd: `wan_1`, `wan-2`, `wan.3`, `wan4`…). */
  routerDev: string;
  /** With ipv6: the operator's global IPv6 address on the uplink (2001:db8:0:i::1). */
  gatewayIp6?: string;
  /** With ipv6: the operator's link-local address on the uplink (fe80::1, on routerDev). */
  gatewayLinkLocal?: string;
  /** With ipv6: the router's IPv6 address on the uplink (2001:db8:0:i::2). */
  routerIp6?: string;
}

export interface ExecOptions {
  /** Reject on a non-zero exit (default true). */
  reject?: boolean;
  /** Default 30 s. */
  timeoutMs?: number;
  /** Added to the inherited environment (which always gets LC_ALL=C, so output parses). */
  env?: Record<string, string>;
  /** Written to the command's stdin; without it stdin is closed. */
  input?: string;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  /** -1 when the command was killed (timeout or signal). */
  exitCode: number;
}

export interface SpawnOptions {
  /** Where stdout and stderr go: a pipe the caller reads, an open file descriptor, or nowhere (default). */
  output?: 'pipe' | 'ignore' | number;
  /** Added to the inherited environment. */
  env?: Record<string, string>;
}

/** Something living in the network (servers…), destroyed before the namespaces are deleted. */
export interface NetworkPart {
  destroy(): Promise<void>;
  destroySync(): void;
}

export interface DefaultRoute {
  gateway?: string;
  dev: string;
  metric?: number;
}

export interface PingOptions {
  /** Source address to bind (`ping -I ADDR`), which also selects source-based policy routes. */
  source?: string;
  /** Seconds to wait for the reply (default 1). */
  waitSeconds?: number;
}

const MAX_UPLINKS = 16;
const MAX_SITES = 4;
const NETNS_RUN_DIR = '/run/netns';
// `ip netns exec NS` (and `ip -n NS`) bind-mounts every entry of /etc/netns/NS over /etc.
const NETNS_ETC_DIR = '/etc/netns';
const NFT_TABLE = 'netgwm_test';
const DEFAULT_TIMEOUT_MS = 30_000;
// The router's /etc/iproute2 is replaced wholesale by the bind mount, so this is all it sees.
const ROUTER_RT_TABLES = '255\tlocal\n254\tmain\n253\tdefault\n0\tunspec\n194\tnetgwm_check\n';
const ODD_UPLINK_DEVS = ['wan_1', 'wan-2', 'wan.3'];

// Device names inside the non-router namespaces (names only need to be unique per namespace).
const OPERATOR_ROUTER_DEV = 'to-router';
const OPERATOR_NET_DEV = 'to-net';
const LAN_DEV = 'eth0';
const ROUTER_LAN_DEV = 'lan0';

const LAN_SUBNET = '203.0.113.0/24';
const ROUTER_LAN_IP = '203.0.113.1';
const LAN_HOST_IP = '203.0.113.2';
const DEAD_SITE = '198.51.100.200';
const LAN_SUBNET6 = '2001:db8:1::/64';
const ROUTER_LAN_IP6 = '2001:db8:1::1';
const LAN_HOST_IP6 = '2001:db8:1::2';
const DEAD_SITE6 = '2001:db8:ff::200';
const GATEWAY_LINK_LOCAL = 'fe80::1';

// ---- addressing plan (i is the 1-based uplink index) ----
const uplinkDev = (i: number) => ODD_UPLINK_DEVS[i - 1] ?? `wan${i}`;
const gatewayIp = (i: number) => `192.0.2.${4 * i - 3}`;
const routerIp = (i: number) => `192.0.2.${4 * i - 2}`;
const uplinkSubnet = (i: number) => `192.0.2.${4 * i - 4}/30`;
const transitNetIp = (i: number) => `198.18.${i}.1`;
const transitOperatorIp = (i: number) => `198.18.${i}.2`;
const netDevFor = (i: number) => `op${i}`;
const siteIp = (k: number) => `198.51.100.${k}`;
const hex = (i: number) => i.toString(16);
const gatewayIp6 = (i: number) => `2001:db8:0:${hex(i)}::1`;
const routerIp6 = (i: number) => `2001:db8:0:${hex(i)}::2`;
const uplinkSubnet6 = (i: number) => `2001:db8:0:${hex(i)}::/64`;
const transitNetIp6 = (i: number) => `2001:db8:100:${hex(i)}::1`;
const transitOperatorIp6 = (i: number) => `2001:db8:100:${hex(i)}::2`;
const siteIp6 = (k: number) => `2001:db8:ff::${hex(k)}`;

const range = (n: number) => Array.from({ length: n }, (_, k) => k + 1);

/** Something that may still own namespaces (or processes in them), for the exit/signal safety net. */
export interface SyncDestroyable {
  destroySync(): void;
}

/** Every instance that may still own namespaces, for the exit/signal safety net. */
const live = new Set<SyncDestroyable>();

/** Puts `owner` under the exit/signal safety net until it calls forgetOnExit(owner). */
export function destroyOnExit(owner: SyncDestroyable): void {
  live.add(owner);
  installSafetyNet();
}

export function forgetOnExit(owner: SyncDestroyable): void {
  live.delete(owner);
}

export class TestNetwork implements SyncDestroyable {
  readonly routerNs: string;
  readonly netNs: string;
  readonly lanNs: string;
  readonly uplinks: Uplink[];
  readonly sites: string[];
  /** With ipv6: the IPv6 check sites, in the order of `sites` (2001:db8:ff::1, …); else empty. */
  readonly sites6: string[];
  readonly deadSite = DEAD_SITE;
  /** With ipv6: an address in the sites' net that nothing answers. */
  readonly deadSite6?: string;
  /** LAN host address (203.0.113.2) in lanNs; the router's LAN address is 203.0.113.1. */
  readonly lanHostIp = LAN_HOST_IP;
  /** With ipv6: the LAN host's IPv6 address (2001:db8:1::2); the router's is 2001:db8:1::1. */
  readonly lanHostIp6?: string;
  /** Every namespace of this network. */
  readonly namespaces: string[];

  // What the instance may delete: set only once it is known that the names were free.
  private ownsNamespaces = false;
  private ownsEtcDir = false;
  private destroyed = false;
  private readonly operators: OperatorState[];
  private readonly deadSites = new Set<string>();
  private readonly children = new Set<ChildProcess>();
  private readonly parts = new Set<NetworkPart>();

  private constructor(
    readonly prefix: string,
    uplinkCount: number,
    siteCount: number,
    private readonly rpFilter: 0 | 1 | 2,
    readonly ipv6: boolean,
  ) {
    this.routerNs = `${prefix}-r`;
    this.netNs = `${prefix}-net`;
    this.lanNs = `${prefix}-lan`;
    this.uplinks = range(uplinkCount).map((i) => ({
      index: i,
      operatorNs: `${prefix}-o${i}`,
      gatewayIp: gatewayIp(i),
      routerIp: routerIp(i),
      routerDev: uplinkDev(i),
      ...(ipv6 ? { gatewayIp6: gatewayIp6(i), gatewayLinkLocal: GATEWAY_LINK_LOCAL, routerIp6: routerIp6(i) } : {}),
    }));
    this.sites = range(siteCount).map(siteIp);
    this.sites6 = ipv6 ? range(siteCount).map(siteIp6) : [];
    if (ipv6) {
      this.deadSite6 = DEAD_SITE6;
      this.lanHostIp6 = LAN_HOST_IP6;
    }
    this.namespaces = [this.routerNs, this.netNs, this.lanNs, ...this.uplinks.map((u) => u.operatorNs)];
    this.operators = this.uplinks.map(() => ({ failed: { 4: false, 6: false }, lossPercent: { 4: 0, 6: 0 } }));
  }

  /** Builds everything; on failure destroys what was made and rethrows. */
  static async create(options: NetworkOptions = {}): Promise<TestNetwork> {
    const network = new TestNetwork(
      validPrefix(options.prefix ?? `ngw${randomBytes(3).toString('hex')}`),
      validCount('uplinks', options.uplinks ?? 3, MAX_UPLINKS),
      validCount('sites', options.sites ?? 2, MAX_SITES),
      options.rpFilter ?? 0,
      options.ipv6 ?? false,
    );
    live.add(network);
    installSafetyNet();
    try {
      await network.build();
    } catch (error) {
      await network.destroy();
      throw error;
    }
    return network;
  }

  /** `/etc/netns/<router>`: bind-mounted over the router namespace's /etc. */
  get routerEtcDir(): string {
    return join(NETNS_ETC_DIR, this.routerNs);
  }

  uplink(i: number): Uplink {
    const uplink = this.uplinks[i - 1];
    if (!uplink) throw new RangeError(`uplink ${i} does not exist (1..${this.uplinks.length})`);
    return uplink;
  }

  /**
   * Operator i (1-based) stops forwarding (nft drop in its forward chain, link stays up): packets
   * of `family` only, or of both. Idempotent.
   */
  async failOperator(i: number, options: FamilyOption = {}): Promise<void> {
    const state = this.operatorState(i);
    for (const family of this.familiesOf(options)) state.failed[family] = true;
    await this.applyOperatorFilter(i);
  }

  /** Operator i forwards again (packets of `family`, or of both). Idempotent. */
  async restoreOperator(i: number, options: FamilyOption = {}): Promise<void> {
    const state = this.operatorState(i);
    for (const family of this.familiesOf(options)) state.failed[family] = false;
    await this.applyOperatorFilter(i);
  }

  /**
   * Drops `percent` % of the packets operator i forwards towards the internet; 0 removes the loss.
   * Only that direction is hit, so the round-trip loss a prober sees is about `percent` %.
   */
  async setOperatorLoss(i: number, percent: number, options: FamilyOption = {}): Promise<void> {
    if (!Number.isInteger(percent) || percent < 0 || percent > 100) {
      throw new RangeError(`loss must be an integer percentage 0..100, got ${percent}`);
    }
    const state = this.operatorState(i);
    for (const family of this.familiesOf(options)) state.lossPercent[family] = percent;
    await this.applyOperatorFilter(i);
  }

  /**
   * Takes the router's side of uplink i down / up. Note that taking a link down makes the kernel
   * delete every route through it; bringing it up restores only the connected /30.
   */
  async setUplinkLink(i: number, up: boolean): Promise<void> {
    await this.ip(this.routerNs, ['link', 'set', 'dev', this.uplink(i).routerDev, up ? 'up' : 'down']);
  }

  /**
   * Operator i's end of uplink i goes down / up: the router's device stays up but loses its
   * carrier (NO-CARRIER), as when a modem is unplugged; its routes stay, flagged linkdown.
   */
  async setUplinkCarrier(i: number, up: boolean): Promise<void> {
    await this.ip(this.uplink(i).operatorNs, ['link', 'set', 'dev', OPERATOR_ROUTER_DEV, up ? 'up' : 'down']);
  }

  /** Makes a site dead everywhere (dropped on input in the net namespace) / alive again. */
  async setSiteDead(site: string, dead: boolean): Promise<void> {
    const all = [...this.sites, ...this.sites6];
    if (!all.includes(site)) throw new RangeError(`${site} is not one of this network's sites (${all.join(', ')})`);
    if (dead) this.deadSites.add(site);
    else this.deadSites.delete(site);
    const drop = (selector: string, sites: string[]) =>
      sites.length > 0 ? [`add rule inet ${NFT_TABLE} input ${selector} { ${sites.join(', ')} } drop`] : [];
    const dead4 = this.sites.filter((candidate) => this.deadSites.has(candidate));
    const dead6 = this.sites6.filter((candidate) => this.deadSites.has(candidate));
    await this.nft(this.netNs, [...filterChain('input'), ...drop('ip daddr', dead4), ...drop('ip6 daddr', dead6)]);
  }

  /** Runs a command in one of this network's namespaces; rejects on non-zero unless { reject: false }. */
  async exec(ns: string, file: string, args: string[], options: ExecOptions = {}): Promise<ExecResult> {
    if (!this.namespaces.includes(ns)) throw new Error(`${ns} is not a namespace of network ${this.prefix}`);
    return run('ip', ['netns', 'exec', ns, file, ...args], options);
  }

  /**
   * Starts a long-running program in one of this network's namespaces without waiting for it.
   * `ip netns exec` execs the program, so the child's PID is the program's own. destroy() (or
   * the exit/signal safety net) kills it before deleting the namespaces, also when a test failed.
   */
  spawn(ns: string, file: string, args: string[], options: SpawnOptions = {}): ChildProcess {
    if (!this.namespaces.includes(ns)) throw new Error(`${ns} is not a namespace of network ${this.prefix}`);
    const output = options.output ?? 'ignore';
    const child = spawn('ip', ['netns', 'exec', ns, file, ...args], {
      stdio: ['ignore', output, output],
      env: { ...process.env, LC_ALL: 'C', ...options.env },
    });
    this.children.add(child);
    child.on('exit', () => this.children.delete(child));
    child.on('error', (error) => warn(`${file} in ${ns}: ${String(error)}`));
    return child;
  }

  /** Makes destroy() destroy `part` (its servers…) first, before the namespaces go. */
  attach(part: NetworkPart): void {
    this.parts.add(part);
  }

  /** One ICMP echo (ICMPv6 for an IPv6 target) from `ns` to `target`; true when it was answered. */
  async ping(ns: string, target: string, options: PingOptions = {}): Promise<boolean> {
    const source = options.source ? ['-I', options.source] : [];
    const wait = String(options.waitSeconds ?? 1);
    const result = await this.exec(ns, 'ping', ['-n', '-q', '-c', '1', '-W', wait, ...source, target], { reject: false });
    return result.exitCode === 0;
  }

  /** `ip -j route show default` in the router's main table (of `family`); multipath routes give one entry per next hop. */
  async defaultRoutes(family: Family = 4): Promise<DefaultRoute[]> {
    const { stdout } = await this.ip(this.routerNs, ['-j', ...(family === 6 ? ['-6'] : []), 'route', 'show', 'default']);
    return parseDefaultRoutes(stdout);
  }

  /** Writes /etc/netns/<router>/hosts, which the router namespace sees as /etc/hosts. */
  async setHosts(entries: Record<string, string>): Promise<void> {
    const lines = ['127.0.0.1\tlocalhost', '::1\tlocalhost'];
    for (const [name, address] of Object.entries(entries)) {
      if (/\s/.test(name) || /\s/.test(address)) throw new Error(`bad hosts entry ${JSON.stringify([name, address])}`);
      lines.push(`${address}\t${name}`);
    }
    await writeFile(join(this.routerEtcDir, 'hosts'), `${lines.join('\n')}\n`);
  }

  /** Deletes every namespace and the /etc/netns dir this instance made; safe to call twice; never throws. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const part of this.parts)
      await part.destroy().catch((error: unknown) => warn(`destroying a part of ${this.prefix}: ${String(error)}`));
    await killChildren(this.children);
    const batch = this.deleteBatch();
    if (batch) {
      const result = await run('ip', ['-force', '-batch', '-'], { input: batch, reject: false });
      if (result.exitCode !== 0) warn(`deleting namespaces of ${this.prefix}: ${result.stderr.trim()}`);
    }
    if (this.ownsEtcDir) {
      await rm(this.routerEtcDir, { recursive: true, force: true }).catch((error: unknown) =>
        warn(`removing ${this.routerEtcDir}: ${String(error)}`),
      );
    }
    live.delete(this);
  }

  /** The synchronous twin of destroy() for the exit/signal safety net. */
  destroySync(): void {
    this.destroyed = true;
    for (const part of this.parts) part.destroySync();
    for (const child of this.children) child.kill('SIGKILL');
    const batch = this.deleteBatch();
    try {
      if (batch) execFileSync('ip', ['-force', '-batch', '-'], { input: batch, stdio: ['pipe', 'ignore', 'pipe'], timeout: 10_000 });
      if (this.ownsEtcDir) rmSync(this.routerEtcDir, { recursive: true, force: true });
    } catch (error) {
      warn(`cleaning up ${this.prefix}: ${String(error)}`);
    }
    live.delete(this);
  }

  // ---- building ----

  private async build(): Promise<void> {
    // Refuse names that are taken, so that cleaning up after a failure can never delete a
    // namespace or /etc/netns directory that belongs to someone else.
    const taken = this.namespaces.filter((ns) => existsSync(join(NETNS_RUN_DIR, ns)));
    if (taken.length > 0) throw new Error(`network namespaces already exist: ${taken.join(', ')}`);
    if (existsSync(this.routerEtcDir)) throw new Error(`${this.routerEtcDir} already exists`);

    await mkdir(NETNS_ETC_DIR, { recursive: true });
    await mkdir(this.routerEtcDir); // not recursive: fails rather than adopt an existing directory
    this.ownsEtcDir = true;
    await mkdir(join(this.routerEtcDir, 'iproute2'));
    await writeFile(join(this.routerEtcDir, 'iproute2', 'rt_tables'), ROUTER_RT_TABLES);

    // One `ip` process creates all namespaces and all veth pairs, each end directly in its namespace.
    this.ownsNamespaces = true;
    const namespaces = this.namespaces.map((ns) => `netns add ${ns}`);
    if (!this.ipv6) await run('ip', ['-batch', '-'], { input: lines([...namespaces, ...this.vethPairs()]) });
    else {
      // The IPv6 defaults must be set before the devices exist, which copy them when created:
      // no duplicate address detection (an address would be unusable for a second or two).
      await run('ip', ['-batch', '-'], { input: lines(namespaces) });
      await allSettledOrThrow(this.namespaces.map((ns) => this.sysctl(ns, this.ipv6Defaults(ns))));
      await run('ip', ['-batch', '-'], { input: lines(this.vethPairs()) });
    }

    // Then each namespace is configured by one `ip -batch` and (if it forwards) one sysctl, in parallel.
    const forward6 = this.ipv6 ? ['net.ipv6.conf.all.forwarding=1'] : [];
    await allSettledOrThrow([
      this.configure(this.routerNs, this.routerConfig(), [
        'net.ipv4.ip_forward=1',
        `net.ipv4.conf.all.rp_filter=${this.rpFilter}`,
        `net.ipv4.conf.default.rp_filter=${this.rpFilter}`,
        ...forward6,
      ]),
      ...this.uplinks.map((u) => this.configure(u.operatorNs, this.operatorConfig(u.index), ['net.ipv4.ip_forward=1', ...forward6])),
      this.configure(this.netNs, this.netConfig(), []),
      this.configure(this.lanNs, this.lanConfig(), []),
    ]);
  }

  private ipv6Defaults(ns: string): string[] {
    const settings = ['net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0'];
    // accept_ra 0: no RA unless a test asks (forwarding alone would ignore accept_ra 1, not 2).
    // keep_addr_on_down: as IPv4 does, the router keeps its uplink addresses while setUplinkLink()
    // has a link down (the kernel's default drops IPv6 ones, and nothing here would put them back).
    if (ns === this.routerNs)
      settings.push(
        'net.ipv6.conf.all.accept_ra=0',
        'net.ipv6.conf.default.accept_ra=0',
        'net.ipv6.conf.all.keep_addr_on_down=1',
        'net.ipv6.conf.default.keep_addr_on_down=1',
      );
    return settings;
  }

  private sysctl(ns: string, settings: string[]): Promise<ExecResult> {
    return run('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', ...settings]);
  }

  private vethPairs(): string[] {
    const veth = (ns: string, dev: string, peerNs: string, peerDev: string) =>
      `link add ${dev} netns ${ns} type veth peer name ${peerDev} netns ${peerNs}`;
    return [
      ...this.uplinks.flatMap((u) => [
        veth(this.routerNs, u.routerDev, u.operatorNs, OPERATOR_ROUTER_DEV),
        veth(u.operatorNs, OPERATOR_NET_DEV, this.netNs, netDevFor(u.index)),
      ]),
      veth(this.routerNs, ROUTER_LAN_DEV, this.lanNs, LAN_DEV),
    ];
  }

  private async configure(ns: string, ipCommands: string[], sysctls: string[]): Promise<void> {
    await allSettledOrThrow([this.ip(ns, ['-batch', '-'], lines(ipCommands)), sysctls.length > 0 ? this.sysctl(ns, sysctls) : undefined]);
  }

  // Deliberately no default route: setting it is the job of the program under test.
  private routerConfig(): string[] {
    return [
      'link set lo up',
      ...this.uplinks.flatMap((u) => [
        ...upWithAddress(u.routerDev, `${u.routerIp}/30`),
        ...this.address6(u.routerDev, `${routerIp6(u.index)}/64`),
      ]),
      ...upWithAddress(ROUTER_LAN_DEV, `${ROUTER_LAN_IP}/24`),
      ...this.address6(ROUTER_LAN_DEV, `${ROUTER_LAN_IP6}/64`),
    ];
  }

  // The sites are /32s on lo. There is no default route and no forwarding, so packets for any
  // other address (such as deadSite) are dropped silently: no ICMP error, just no answer.
  // For IPv6 the kernel would answer with `no route` errors: a blackhole default drops silently.
  private netConfig(): string[] {
    return [
      'link set lo up',
      ...this.sites.map((site) => `addr add ${site}/32 dev lo`),
      ...this.sites6.map((site) => `addr add ${site}/128 dev lo`),
      ...this.uplinks.flatMap((u) => [
        ...upWithAddress(netDevFor(u.index), `${transitNetIp(u.index)}/24`),
        `route add ${uplinkSubnet(u.index)} via ${transitOperatorIp(u.index)}`,
        ...this.ifIpv6([
          `addr add ${transitNetIp6(u.index)}/64 dev ${netDevFor(u.index)}`,
          `route add ${uplinkSubnet6(u.index)} via ${transitOperatorIp6(u.index)}`,
        ]),
      ]),
      // The LAN is not NATed anywhere; its replies come back through operator 1.
      `route add ${LAN_SUBNET} via ${transitOperatorIp(1)}`,
      ...this.ifIpv6([`route add ${LAN_SUBNET6} via ${transitOperatorIp6(1)}`, 'route add blackhole ::/0']),
    ];
  }

  private operatorConfig(i: number): string[] {
    return [
      ...operatorConfig(i),
      ...this.ifIpv6([
        `addr add ${gatewayIp6(i)}/64 dev ${OPERATOR_ROUTER_DEV}`,
        `addr add ${GATEWAY_LINK_LOCAL}/64 dev ${OPERATOR_ROUTER_DEV}`,
        `addr add ${transitOperatorIp6(i)}/64 dev ${OPERATOR_NET_DEV}`,
        `route add default via ${transitNetIp6(i)}`,
        `route add ${LAN_SUBNET6} via ${routerIp6(i)}`,
      ]),
    ];
  }

  private lanConfig(): string[] {
    return [...lanConfig(), ...this.ifIpv6([`addr add ${LAN_HOST_IP6}/64 dev ${LAN_DEV}`, `route add default via ${ROUTER_LAN_IP6}`])];
  }

  private ifIpv6(commands: string[]): string[] {
    return this.ipv6 ? commands : [];
  }

  private address6(dev: string, cidr: string): string[] {
    return this.ifIpv6([`addr add ${cidr} dev ${dev}`]);
  }

  private familiesOf(options: FamilyOption): Family[] {
    if (options.family === 6 && !this.ipv6) throw new Error(`network ${this.prefix} has no IPv6 (create it with { ipv6: true })`);
    return options.family ? [options.family] : [4, 6];
  }

  // ---- operating ----

  private operatorState(i: number): OperatorState {
    this.uplink(i); // range check
    return this.operators[i - 1]!;
  }

  // Rewrites operator i's whole forward chain from its state in one nft transaction, which makes
  // every setter idempotent and lets failure and loss be combined.
  private async applyOperatorFilter(i: number): Promise<void> {
    const { failed, lossPercent } = this.operatorState(i);
    // Both families alike give the rules of an IPv4-only network, unchanged.
    const alike = failed[4] === failed[6] && lossPercent[4] === lossPercent[6];
    const selectors: Array<[string, Family]> = alike
      ? [['', 4]]
      : [
          [' meta nfproto ipv4', 4],
          [' meta nfproto ipv6', 6],
        ];
    const rules: string[] = [];
    for (const [selector, family] of selectors) {
      if (failed[family]) rules.push(`add rule inet ${NFT_TABLE} forward${selector} drop`);
      const loss = lossPercent[family];
      if (loss > 0) {
        // nft rejects `numgen random mod 100 < 100` (the value must fit the 0-99 range), so 100 % is a plain drop.
        const chance = loss < 100 ? ` numgen random mod 100 < ${loss}` : '';
        rules.push(`add rule inet ${NFT_TABLE} forward${selector} iifname "${OPERATOR_ROUTER_DEV}"${chance} drop`);
      }
    }
    await this.nft(this.uplink(i).operatorNs, [...filterChain('forward'), ...rules]);
  }

  private async nft(ns: string, commands: string[]): Promise<void> {
    await run('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], { input: lines(commands) });
  }

  private async ip(ns: string, args: string[], input?: string): Promise<ExecResult> {
    return run('ip', ['-n', ns, ...args], input === undefined ? {} : { input });
  }

  /** The `ip -batch` script deleting whichever of our namespaces still exist, or '' if none do. */
  private deleteBatch(): string {
    if (!this.ownsNamespaces) return '';
    const existing = this.namespaces.filter((ns) => existsSync(join(NETNS_RUN_DIR, ns)));
    return existing.length > 0 ? lines(existing.map((ns) => `netns del ${ns}`)) : '';
  }
}

interface OperatorState {
  failed: Record<Family, boolean>;
  lossPercent: Record<Family, number>;
}

function operatorConfig(i: number): string[] {
  return [
    'link set lo up',
    ...upWithAddress(OPERATOR_ROUTER_DEV, `${gatewayIp(i)}/30`),
    ...upWithAddress(OPERATOR_NET_DEV, `${transitOperatorIp(i)}/24`),
    `route add default via ${transitNetIp(i)}`,
    // Lets LAN traffic that left through this operator find its way back (there is no NAT).
    `route add ${LAN_SUBNET} via ${routerIp(i)}`,
  ];
}

function lanConfig(): string[] {
  return ['link set lo up', ...upWithAddress(LAN_DEV, `${LAN_HOST_IP}/24`), `route add default via ${ROUTER_LAN_IP}`];
}

export function upWithAddress(dev: string, cidr: string): string[] {
  return [`link set dev ${dev} up`, `addr add ${cidr} dev ${dev}`];
}

/** Creates (if missing) and empties our filter chain on `hook`; `add` is a no-op for existing objects. */
export function filterChain(hook: 'input' | 'forward'): string[] {
  return [
    `add table inet ${NFT_TABLE}`,
    `add chain inet ${NFT_TABLE} ${hook} { type filter hook ${hook} priority 0 ; policy accept ; }`,
    `flush chain inet ${NFT_TABLE} ${hook}`,
  ];
}

interface IpRouteJson {
  gateway?: string;
  dev?: string;
  metric?: number;
  nexthops?: Array<{ gateway?: string; dev?: string }>;
}

export function parseDefaultRoutes(json: string): DefaultRoute[] {
  const routes = JSON.parse(json.trim() || '[]') as IpRouteJson[];
  return routes.flatMap((route) =>
    (route.nexthops ?? [route]).map((hop) => ({
      dev: hop.dev ?? '',
      ...(hop.gateway === undefined ? {} : { gateway: hop.gateway }),
      ...(route.metric === undefined ? {} : { metric: route.metric }),
    })),
  );
}

export async function run(file: string, args: string[], options: ExecOptions = {}): Promise<ExecResult> {
  const result = await execa(file, args, {
    input: options.input,
    stdin: options.input === undefined ? 'ignore' : 'pipe',
    reject: options.reject ?? true,
    timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    env: { LC_ALL: 'C', ...options.env },
  });
  return { stdout: String(result.stdout), stderr: String(result.stderr), exitCode: result.exitCode ?? -1 };
}

/** Like Promise.all, but waits for every command to finish, so cleanup never races a running one. */
export async function allSettledOrThrow(promises: Array<Promise<unknown> | undefined>): Promise<void> {
  const results = await Promise.allSettled(promises);
  const failure = results.find((result) => result.status === 'rejected');
  if (failure) throw failure.reason;
}

export const lines = (commands: string[]) => `${commands.join('\n')}\n`;

function validCount(what: string, value: number, max: number): number {
  if (!Number.isInteger(value) || value < 1 || value > max) throw new RangeError(`${what} must be an integer 1..${max}, got ${value}`);
  return value;
}

// Short and plain, because it becomes namespace names, a directory name and `ip -batch` words.
export function validPrefix(prefix: string): string {
  if (!/^[a-z0-9]{1,12}$/i.test(prefix)) throw new RangeError(`prefix must be 1-12 letters or digits, got ${JSON.stringify(prefix)}`);
  return prefix;
}

/** SIGKILLs `children` and waits, bounded (5 s), until each has exited. */
async function killChildren(children: Set<ChildProcess>): Promise<void> {
  const exited = [...children].map(
    (child) =>
      new Promise<void>((done) => (child.exitCode !== null || child.signalCode !== null ? done() : child.once('exit', () => done()))),
  );
  for (const child of children) child.kill('SIGKILL');
  const guard = new Promise<void>((done) => setTimeout(done, 5000).unref());
  await Promise.race([Promise.all(exited), guard]);
}

function warn(message: string): void {
  process.stderr.write(`test network: ${message}\n`);
}

let safetyNetInstalled = false;

// An interrupted test run or demo must not leave namespaces behind. On a signal, clean up and then
// re-raise it for the default action, unless someone else is listening and will handle it.
function installSafetyNet(): void {
  if (safetyNetInstalled) return;
  safetyNetInstalled = true;
  const destroyAllSync = () => {
    for (const network of [...live]) network.destroySync();
  };
  process.once('exit', destroyAllSync);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      destroyAllSync();
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  }
}
