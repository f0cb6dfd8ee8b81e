// A throw-away HA pair of routers for end-to-end tests and the bench (issue 14).
//
//   host ─eth0──┐ switch (bridge lan)    r1 ─wan1─┐ operator 1 (bridge wan, gateway 192.0.2.1/29) ─to-net─┐
//   203.0.113.2 ├─r1──lan0─ r1 (.11)        ─wan2─┼─┐                                                  net: sites 198.51.100.1, .2
//               └─r2──lan0─ r2 (.12)     r2 ─wan1─┘ └ operator 2 (bridge wan, gateway 192.0.2.9/29)  ─to-net─┘    server 198.51.100.80
//   VIP 203.0.113.1/24 (VRRP)               ─wan2───┘
//   r1 ─sync0── 198.18.200.1/30 ↔ 198.18.200.2/30 ──sync0─ r2   (conntrackd FTFW)
//
// Uplink segment i (192.0.2.(8i-8)/29): gateway .(8i-7), r1 .(8i-6), r2 .(8i-5), uplink VIP
// .(8i-4). The operators route the LAN back to the uplink VIP, which keepalived moves together
// with the LAN VIP, so replies follow the master (as with a routed LAN prefix in the field; with
// NAT the NAT address would be that VIP). Transit i: operator 198.18.i.2/24, net 198.18.i.1/24;
// the net routes the LAN back through operator 1.
//
// Each router forwards through a stateful firewall (new flows only from the LAN, then
// established ones; nf_conntrack_tcp_loose=0), so a router without the flow's conntrack entry
// drops it: a flow survives a takeover only when conntrackd's external cache was committed.
//
// Each router runs `netgwm daemon` (its default route, in every role), then conntrackd and
// keepalived with the shipped examples/ha files as they are (placeholders substituted):
// keepalived's track script is `netgwm health`; netgwm-notify reads keepalived's notify FIFO
// and calls `netgwm role` for each change. Configs, pid files, sockets and logs are in a per-run directory. Everything lives in namespaces named after a per-run prefix, uses
// documentation addresses only, and is deleted — every process in those namespaces killed
// first — by destroy() or, if the process dies first, by network.ts's exit/signal safety net.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, type Stats, statSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { renderExample } from './ha-templates.js';
import {
  allSettledOrThrow,
  destroyOnExit,
  type ExecOptions,
  type ExecResult,
  filterChain,
  forgetOnExit,
  lines,
  run,
  type SyncDestroyable,
  upWithAddress,
  validPrefix,
} from './network.js';

export type RouterId = 1 | 2;
export const ROUTER_IDS: RouterId[] = [1, 2];

export interface HaUplink {
  /** 1-based. */
  index: number;
  operatorNs: string;
  /** The operator's address on the segment: the router's next hop. */
  gatewayIp: string;
  /** The router's own address on the segment. */
  routerIp: string;
  routerDev: string;
  /** The uplink VIP keepalived moves with the LAN VIP. */
  vip: string;
}

export interface HaRouter {
  id: RouterId;
  ns: string;
  lanIp: string;
  syncIp: string;
  peerSyncIp: string;
  uplinks: HaUplink[];
  /** This router's per-run directory: configs, pid files, sockets, logs. */
  runDir: string;
  /** /etc/netns/<ns>: bind-mounted over the router namespace's /etc. */
  etcDir: string;
}

export interface HaNetworkOptions {
  /** Namespace name prefix; default `nha` + 6 random hex characters. */
  prefix?: string;
}

export interface DaemonOptions {
  /** false: netgwm's `cluster.conntrackd: false`, `netgwm role` leaves conntrackd alone, nothing is committed (a control case). */
  commitOnTakeover?: boolean;
  /** VRRP priorities (default r1 150, r2 100: r1 is master when both are healthy). */
  priority?: Record<RouterId, number>;
}

export interface StreamStatus {
  connected: boolean;
  closed: boolean;
  bytes: number;
  resets: number;
  errors: string[];
  /** The longest gap between two arrivals, in ms: the flow's stall. */
  maxGapMs: number;
}

export const VIP = '203.0.113.1';
export const LAN_HOST_IP = '203.0.113.2';
export const SERVER_IP = '198.51.100.80';
export const SERVER_PORT = 8080;
export const SITES = ['198.51.100.1', '198.51.100.2'];

/** One call of a router's recording hook: NETGWM_EVENT, NETGWM_ROLE, then its arguments. */
export interface HookCall {
  event: string;
  role: string;
  args: string[];
}

const NETNS_RUN_DIR = '/run/netns';
const NETNS_ETC_DIR = '/etc/netns';
const UPLINKS = 2;
const LAN_SUBNET = '203.0.113.0/24';
const LAN_DEV = 'lan0';
const SYNC_DEV = 'sync0';
const SWITCH_BRIDGE = 'lan';
const OPERATOR_BRIDGE = 'wan';
const OPERATOR_NET_DEV = 'to-net';
const HOST_DEV = 'eth0';
const FIREWALL_TABLE = 'ha_test_fw';
const UPLINK_FILTER_TABLE = 'ha_test_uplink';
const VRRP_FILTER_TABLE = 'ha_test_vrrp';
const ROUTER_RT_TABLES = '255\tlocal\n254\tmain\n253\tdefault\n0\tunspec\n194\tnetgwm_check\n';
const STREAM_PROGRAM = fileURLToPath(new URL('./tcp-stream.mjs', import.meta.url));
const POLL_MS = 100;
const NETGWM_PROGRAM = fileURLToPath(new URL('../../bin/netgwm', import.meta.url));
// Records every call as one line: the event, NETGWM_ROLE, then the arguments, tab-separated.
const RECORDING_HOOK = `#!/bin/sh
{ printf '%s\\t%s' "$NETGWM_EVENT" "$NETGWM_ROLE"; for arg in "$@"; do printf '\\t%s' "$arg"; done; echo; } >> "$0.calls"
`;

// ---- addressing plan (r: router 1|2, i: uplink 1|2) ----
const routerLanIp = (r: RouterId) => `203.0.113.${10 + r}`;
const syncIp = (r: RouterId) => `198.18.200.${r}`;
const segmentIp = (i: number, host: number) => `192.0.2.${8 * i - 8 + host}`;
const gatewayIp = (i: number) => segmentIp(i, 1);
const uplinkRouterIp = (r: RouterId, i: number) => segmentIp(i, 1 + r);
const uplinkVip = (i: number) => segmentIp(i, 4);
const segment = (i: number) => `${segmentIp(i, 0)}/29`;
const transitNetIp = (i: number) => `198.18.${i}.1`;
const transitOperatorIp = (i: number) => `198.18.${i}.2`;
const range = (n: number) => Array.from({ length: n }, (_, k) => k + 1);

/** Polls `check` every 100 ms until it returns a value other than undefined; a hang guard, not a timing. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (let attempt = 0; attempt < timeoutMs / POLL_MS + 1; attempt++) {
    const value = await check();
    if (value !== undefined) return value;
    if (performance.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

export class HaNetwork implements SyncDestroyable {
  readonly switchNs: string;
  readonly hostNs: string;
  readonly netNs: string;
  readonly operatorNs: string[];
  readonly routers: Record<RouterId, HaRouter>;
  readonly namespaces: string[];
  readonly vip = VIP;
  readonly lanHostIp = LAN_HOST_IP;
  readonly serverIp = SERVER_IP;
  readonly sites = SITES;

  private ownsNamespaces = false;
  private readonly ownedEtcDirs: string[] = [];
  private destroyed = false;
  private readonly children = new Set<ChildProcess>();

  private constructor(
    readonly prefix: string,
    readonly runDir: string,
  ) {
    this.switchNs = `${prefix}-sw`;
    this.hostNs = `${prefix}-host`;
    this.netNs = `${prefix}-net`;
    this.operatorNs = range(UPLINKS).map((i) => `${prefix}-o${i}`);
    const router = (r: RouterId): HaRouter => ({
      id: r,
      ns: `${prefix}-r${r}`,
      lanIp: routerLanIp(r),
      syncIp: syncIp(r),
      peerSyncIp: syncIp(r === 1 ? 2 : 1),
      uplinks: range(UPLINKS).map((i) => ({
        index: i,
        operatorNs: this.operatorNs[i - 1]!,
        gatewayIp: gatewayIp(i),
        routerIp: uplinkRouterIp(r, i),
        routerDev: `wan${i}`,
        vip: uplinkVip(i),
      })),
      runDir: join(runDir, `r${r}`),
      etcDir: join(NETNS_ETC_DIR, `${prefix}-r${r}`),
    });
    this.routers = { 1: router(1), 2: router(2) };
    this.namespaces = [this.routers[1].ns, this.routers[2].ns, this.switchNs, this.hostNs, ...this.operatorNs, this.netNs];
  }

  /** Builds everything; on failure destroys what was made and rethrows. */
  static async create(options: HaNetworkOptions = {}): Promise<HaNetwork> {
    const prefix = validPrefix(options.prefix ?? `nha${randomBytes(3).toString('hex')}`);
    const network = new HaNetwork(prefix, mkdtempSync(join(tmpdir(), `netgwm-ha-${prefix}-`)));
    destroyOnExit(network);
    try {
      await network.build();
    } catch (error) {
      await network.destroy();
      throw error;
    }
    return network;
  }

  router(r: RouterId): HaRouter {
    return this.routers[r];
  }

  /** Runs a command in one of this network's namespaces; rejects on non-zero unless { reject: false }. */
  async exec(ns: string, file: string, args: string[], options: ExecOptions = {}): Promise<ExecResult> {
    if (!this.namespaces.includes(ns)) throw new Error(`${ns} is not a namespace of HA network ${this.prefix}`);
    return run('ip', ['netns', 'exec', ns, file, ...args], options);
  }

  /** One ICMP echo from `ns` to `target`; true when answered. */
  async ping(ns: string, target: string): Promise<boolean> {
    return (await this.exec(ns, 'ping', ['-n', '-q', '-c', '1', '-W', '1', target], { reject: false })).exitCode === 0;
  }

  // ---- keepalived and conntrackd ----

  /**
   * Starts `netgwm daemon` in both routers and waits until each routes via its uplink 1 (every
   * role routes, so before keepalived even starts), then conntrackd and keepalived in each, with
   * the shipped examples/ha files.
   */
  async startDaemons(options: DaemonOptions = {}): Promise<void> {
    const priority = options.priority ?? { 1: 150, 2: 100 };
    for (const router of Object.values(this.routers)) await this.writeNetgwmFiles(router, options.commitOnTakeover ?? true);
    for (const router of Object.values(this.routers)) {
      this.startProcess(
        router.ns,
        process.execPath,
        [NETGWM_PROGRAM, 'daemon', '-c', this.netgwmConfig(router)],
        join(router.runDir, 'netgwm.out'),
        {
          NETGWM_LOCK_DIR: this.lockDir(router),
        },
      );
    }
    for (const router of Object.values(this.routers)) {
      const uplink1 = router.uplinks[0]!.gatewayIp;
      await waitFor(`${router.ns} to route via ${uplink1} (netgwm daemon)`, async () =>
        (await this.routeVia(router)) === uplink1 ? true : undefined,
      );
    }
    for (const router of Object.values(this.routers)) {
      const dir = router.runDir;
      // Where `conntrackd` without -C looks (/etc/conntrackd/conntrackd.conf in the router's view).
      const conntrackdConf = this.conntrackdConf(router);
      const values: Record<string, string> = {
        LAN_DEV,
        VIP,
        VIP_PREFIXLEN: '24',
        VRID: '51',
        PRIORITY: String(priority[router.id]),
        NETGWM: this.netgwmWrapper(router),
        NETGWM_CONFIG: this.netgwmConfig(router),
        NOTIFY: this.notifyScript(router),
        NOTIFY_FIFO: this.notifyFifo(router),
        NOTIFY_LOG: this.notifyLog(router),
        ...Object.fromEntries(
          router.uplinks.flatMap((u) => [
            [`UPLINK${u.index}_DEV`, u.routerDev],
            [`UPLINK${u.index}_VIP`, u.vip],
            [`UPLINK${u.index}_PREFIXLEN`, '29'],
          ]),
        ),
        SYNC_DEV,
        LOCAL_SYNC_IP: router.syncIp,
        PEER_SYNC_IP: router.peerSyncIp,
        LOG_FILE: join(dir, 'conntrackd.log'),
        LOCK_FILE: join(dir, 'conntrackd.lock'),
        CTL_SOCKET: join(dir, 'conntrackd.ctl'),
      };
      await writeFile(values.NOTIFY!, await renderExample('netgwm-notify', values), { mode: 0o755 });
      await mkdir(join(router.etcDir, 'conntrackd'), { recursive: true });
      await writeFile(conntrackdConf, await renderExample('conntrackd.conf', values));
      await writeFile(join(dir, 'keepalived.conf'), await renderExample('keepalived.conf', values));
    }
    for (const router of Object.values(this.routers)) {
      const dir = router.runDir;
      this.startProcess(router.ns, '/usr/sbin/conntrackd', ['-C', this.conntrackdConf(router)], join(dir, 'conntrackd.out'));
      await waitFor(
        `conntrackd's socket in ${router.ns}`,
        async () => (existsSync(join(dir, 'conntrackd.ctl')) ? true : undefined),
        30_000,
      );
    }
    for (const router of Object.values(this.routers)) {
      const dir = router.runDir;
      this.startProcess(
        router.ns,
        '/usr/sbin/keepalived',
        [
          '--dont-fork',
          '--log-console',
          '--log-detail',
          '--no-syslog',
          '--vrrp',
          '--use-file',
          join(dir, 'keepalived.conf'),
          '--pid',
          join(dir, 'keepalived.pid'),
          '--vrrp_pid',
          join(dir, 'vrrp.pid'),
        ],
        join(dir, 'keepalived.log'),
      );
    }
  }

  /** The routers holding the LAN VIP on a working LAN link now (one in a healthy pair; two in a split brain). */
  async vipHolders(): Promise<RouterId[]> {
    const holders: RouterId[] = [];
    for (const router of Object.values(this.routers)) {
      const result = await this.exec(router.ns, 'ip', ['-j', '-4', 'addr', 'show', 'dev', LAN_DEV], { reject: false });
      const links = JSON.parse(result.stdout.trim() || '[]') as Array<{ flags?: string[]; addr_info?: Array<{ local?: string }> }>;
      // A dead router keeps the address on its downed link (keepalived had no chance to remove it).
      const holds = (link: (typeof links)[number]) =>
        link.flags?.includes('LOWER_UP') && link.addr_info?.some((info) => info.local === VIP);
      if (links.some(holds)) holders.push(router.id);
    }
    return holders;
  }

  /** Waits until exactly `r` holds the VIP and its notify script has finished as MASTER. */
  async waitForMaster(r: RouterId, timeoutMs = 60_000): Promise<void> {
    await waitFor(
      `${this.routers[r].ns} to be the only VIP holder with its MASTER notify done`,
      async () => {
        const holders = await this.vipHolders();
        const states = await this.notifyStates(r);
        return holders.length === 1 && holders[0] === r && states.at(-1) === 'MASTER' ? true : undefined;
      },
      timeoutMs,
    );
  }

  /** The states keepalived notified router `r` of, in order (as its notify script logged them). */
  async notifyStates(r: RouterId): Promise<string[]> {
    const text = await readFile(join(this.routers[r].runDir, 'notify.log'), 'utf8').catch(() => '');
    return text.split('\n').filter(Boolean);
  }

  /** Every uplink of router `r` fails (false: its `netgwm health` fails once netgwm sees it) or comes back (true). */
  async setHealthy(r: RouterId, healthy: boolean): Promise<void> {
    for (const uplink of this.routers[r].uplinks) await this.setUplinkFailed(r, uplink.index, !healthy);
  }

  /** `netgwm health` in router `r`, as keepalived's track script runs it. */
  async health(r: RouterId): Promise<ExecResult> {
    const router = this.routers[r];
    return this.exec(router.ns, this.netgwmWrapper(router), ['health', '-c', this.netgwmConfig(router)], { reject: false });
  }

  /** The gateway of router's default route in its main table. */
  async routeVia(router: HaRouter): Promise<string | undefined> {
    const { stdout } = await this.exec(router.ns, 'ip', ['-j', 'route', 'show', 'default']);
    return (JSON.parse(stdout.trim() || '[]') as Array<{ gateway?: string }>)[0]?.gateway;
  }

  /** Every call of router `r`'s recording hook so far, in order. */
  async hookCalls(r: RouterId): Promise<HookCall[]> {
    const text = await readFile(join(this.hooksDir(this.routers[r]), '50-record.calls'), 'utf8').catch(() => '');
    return text
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [event, role, ...args] = line.split('\t');
        return { event: event!, role: role!, args };
      });
  }

  /** What `netgwm role` wrote in router `r`'s role file (undefined before the first call). */
  async roleFile(r: RouterId): Promise<string | undefined> {
    return readFile(join(this.routers[r].runDir, 'netgwm-state', 'role'), 'utf8').then(
      (text) => text.trim(),
      () => undefined,
    );
  }

  /** `conntrackd -C CONF ARGS` in router `r` (e.g. ['-e'] for the external cache). */
  async conntrackd(r: RouterId, args: string[]): Promise<ExecResult> {
    return this.exec(this.routers[r].ns, '/usr/sbin/conntrackd', ['-C', this.conntrackdConf(this.routers[r]), ...args], {
      reject: false,
    });
  }

  /** What conntrackd of router `r` logged so far. */
  async conntrackdLog(r: RouterId): Promise<string> {
    return readFile(join(this.routers[r].runDir, 'conntrackd.log'), 'utf8').catch(() => '');
  }

  /** Every daemon log of both routers, for a failing test's message. */
  async logs(): Promise<string> {
    const parts: string[] = [];
    for (const router of Object.values(this.routers)) {
      for (const file of [
        'keepalived.log',
        'conntrackd.log',
        'conntrackd.out',
        'notify.log',
        'netgwm-notify.log',
        'role.log',
        'netgwm.out',
      ]) {
        const text = await readFile(join(router.runDir, file), 'utf8').catch(() => '(none)');
        parts.push(`---- ${router.ns} ${file}\n${text.split('\n').slice(-40).join('\n')}`);
      }
    }
    return parts.join('\n');
  }

  /** keepalived of router `r` reloads its configuration (SIGHUP to its main process, as `systemctl reload keepalived` does). */
  async reloadKeepalived(r: RouterId): Promise<void> {
    process.kill(await this.keepalivedPid(r), 'SIGHUP');
  }

  /** keepalived of router `r` stops (SIGTERM to its main process, as `systemctl stop keepalived` does); it ends on its own. */
  async stopKeepalived(r: RouterId): Promise<void> {
    process.kill(await this.keepalivedPid(r), 'SIGTERM');
  }

  private async keepalivedPid(r: RouterId): Promise<number> {
    return Number((await readFile(join(this.routers[r].runDir, 'keepalived.pid'), 'utf8')).trim());
  }

  /** The arguments (argv[0] first) of every process running in router `r` now. */
  commandLines(r: RouterId): string[][] {
    return pidsIn(this.routers[r].ns)
      .map(commandLine)
      .filter((argv) => argv[0]);
  }

  /** The PIDs of router `r`'s running netgwm-notify scripts (keepalived starts one to read its notify FIFO). */
  notifyScripts(r: RouterId): number[] {
    const script = this.notifyScript(this.routers[r]);
    return pidsIn(this.routers[r].ns).filter((pid) => commandLine(pid)[1] === script);
  }

  /** The PIDs of router `r`'s netgwm-notify scripts reading the notify FIFO keepalived has now (their stdin is it, not an older one). */
  notifyFifoReaders(r: RouterId): number[] {
    const fifo = statOrUndefined(this.notifyFifo(this.routers[r]));
    if (!fifo) return [];
    return this.notifyScripts(r).filter((pid) => {
      const stdin = statOrUndefined(`/proc/${pid}/fd/0`);
      return stdin?.dev === fifo.dev && stdin.ino === fifo.ino;
    });
  }

  /** What router `r`'s netgwm-notify logged so far (its --log), one message a line. */
  async notifyScriptLog(r: RouterId): Promise<string[]> {
    return (await readFile(this.notifyLog(this.routers[r]), 'utf8').catch(() => '')).split('\n').filter(Boolean);
  }

  // ---- failures ----

  /** The router dies: every process in its namespace is killed, then all its links go down. */
  async powerOff(r: RouterId): Promise<void> {
    const router = this.routers[r];
    await killAllIn(router.ns);
    await this.exec(router.ns, 'ip', ['-batch', '-'], {
      input: lines([LAN_DEV, SYNC_DEV, ...router.uplinks.map((u) => u.routerDev)].map((dev) => `link set dev ${dev} down`)),
    });
  }

  /** The switch port of router `r` goes down / up (its LAN link loses carrier). */
  async setLanLink(r: RouterId, up: boolean): Promise<void> {
    await this.exec(this.switchNs, 'ip', ['link', 'set', 'dev', `r${r}`, up ? 'up' : 'down']);
  }

  /** The sync link is cut / restored (r1's end down or up; r2's end loses carrier). */
  async setSyncLink(up: boolean): Promise<void> {
    await this.exec(this.routers[1].ns, 'ip', ['link', 'set', 'dev', SYNC_DEV, up ? 'up' : 'down']);
  }

  /**
   * Operator i stops (true) / resumes exchanging frames with router r on its segment; the link
   * keeps its carrier. The other router's uplink to the same operator is not affected.
   */
  async setUplinkFailed(r: RouterId, i: number, failed: boolean): Promise<void> {
    const ns = this.operatorNs[i - 1];
    if (!ns) throw new RangeError(`uplink ${i} does not exist (1..${UPLINKS})`);
    this.failedPorts[i - 1]![r] = failed;
    const ports = ROUTER_IDS.filter((id) => this.failedPorts[i - 1]![id]).map((id) => `"r${id}"`);
    const base = ['input', 'forward', 'output'].flatMap((hook) => [
      `add table bridge ${UPLINK_FILTER_TABLE}`,
      `add chain bridge ${UPLINK_FILTER_TABLE} ${hook} { type filter hook ${hook} priority 0 ; policy accept ; }`,
      `flush chain bridge ${UPLINK_FILTER_TABLE} ${hook}`,
    ]);
    const rules =
      ports.length === 0
        ? []
        : [
            `add rule bridge ${UPLINK_FILTER_TABLE} input iifname { ${ports.join(', ')} } drop`,
            `add rule bridge ${UPLINK_FILTER_TABLE} forward iifname { ${ports.join(', ')} } drop`,
            `add rule bridge ${UPLINK_FILTER_TABLE} forward oifname { ${ports.join(', ')} } drop`,
            `add rule bridge ${UPLINK_FILTER_TABLE} output oifname { ${ports.join(', ')} } drop`,
          ];
    await this.exec(ns, 'nft', ['-f', '-'], { input: lines([...base, ...rules]) });
  }

  private readonly failedPorts: Array<Record<RouterId, boolean>> = range(UPLINKS).map(() => ({ 1: false, 2: false }));

  /**
   * The LAN switch drops (true) / passes VRRP advertisements between the routers: each then
   * believes it is alone (a VRRP split brain) while the LAN itself keeps working.
   */
  async setVrrpBlocked(blocked: boolean): Promise<void> {
    await this.exec(this.switchNs, 'nft', ['-f', '-'], {
      input: lines([
        `add table bridge ${VRRP_FILTER_TABLE}`,
        `add chain bridge ${VRRP_FILTER_TABLE} forward { type filter hook forward priority 0 ; policy accept ; }`,
        `flush chain bridge ${VRRP_FILTER_TABLE} forward`,
        ...(blocked ? [`add rule bridge ${VRRP_FILTER_TABLE} forward ip protocol vrrp drop`] : []),
      ]),
    });
  }

  // ---- the long-lived TCP flow ----

  /** Starts the streaming server in the net namespace and waits until it listens. */
  async startStreamServer(): Promise<void> {
    const child = this.spawnIn(this.netNs, process.execPath, [STREAM_PROGRAM, 'server', SERVER_IP, String(SERVER_PORT)], 'pipe');
    let output = '';
    child.stdout?.on('data', (data: Buffer) => {
      output += data.toString();
    });
    await waitFor('the stream server to listen', async () => (output.includes('listening') ? true : undefined), 30_000);
  }

  /** Connects the LAN host to the server through the VIP; status() gives what it saw so far. */
  startStreamClient(): StreamClient {
    const child = this.spawnIn(this.hostNs, process.execPath, [STREAM_PROGRAM, 'client', SERVER_IP, String(SERVER_PORT)], 'pipe');
    return new StreamClient(child);
  }

  // ---- cleaning up ----

  /** Kills every process in our namespaces, deletes them and the per-run files; safe twice; never throws. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    if (this.ownsNamespaces) {
      for (const ns of this.existingNamespaces()) await killAllIn(ns).catch((error: unknown) => warn(`killing in ${ns}: ${String(error)}`));
      const batch = this.deleteBatch();
      if (batch) {
        const result = await run('ip', ['-force', '-batch', '-'], { input: batch, reject: false });
        if (result.exitCode !== 0) warn(`deleting namespaces of ${this.prefix}: ${result.stderr.trim()}`);
      }
    }
    for (const dir of [...this.ownedEtcDirs, this.runDir]) await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    forgetOnExit(this);
  }

  /** The synchronous twin of destroy() for the exit/signal safety net. */
  destroySync(): void {
    this.destroyed = true;
    try {
      if (this.ownsNamespaces) {
        for (const ns of this.existingNamespaces()) for (const pid of pidsIn(ns)) killQuietly(pid);
        const batch = this.deleteBatch();
        if (batch) execFileSync('ip', ['-force', '-batch', '-'], { input: batch, stdio: ['pipe', 'ignore', 'pipe'], timeout: 10_000 });
      }
      for (const dir of [...this.ownedEtcDirs, this.runDir]) rmSync(dir, { recursive: true, force: true });
    } catch (error) {
      warn(`cleaning up ${this.prefix}: ${String(error)}`);
    }
    forgetOnExit(this);
  }

  // ---- building ----

  private async build(): Promise<void> {
    const taken = this.namespaces.filter((ns) => existsSync(join(NETNS_RUN_DIR, ns)));
    if (taken.length > 0) throw new Error(`network namespaces already exist: ${taken.join(', ')}`);
    await mkdir(NETNS_ETC_DIR, { recursive: true });
    for (const router of Object.values(this.routers)) {
      await mkdir(router.etcDir); // not recursive: fails rather than adopt an existing directory
      this.ownedEtcDirs.push(router.etcDir);
      await mkdir(join(router.etcDir, 'iproute2'));
      await writeFile(join(router.etcDir, 'iproute2', 'rt_tables'), ROUTER_RT_TABLES);
      await mkdir(router.runDir);
    }

    this.ownsNamespaces = true;
    await run('ip', ['-batch', '-'], { input: lines([...this.namespaces.map((ns) => `netns add ${ns}`), ...this.vethPairs()]) });
    const [r1, r2] = [this.routers[1], this.routers[2]];
    await allSettledOrThrow([
      ...[r1, r2].map((router) => this.configureRouter(router)),
      ...range(UPLINKS).map((i) => this.configure(this.operatorNs[i - 1]!, this.operatorConfig(i), ['net.ipv4.ip_forward=1'])),
      this.configure(this.switchNs, this.switchConfig(), []),
      this.configure(this.hostNs, ['link set lo up', ...upWithAddress(HOST_DEV, `${LAN_HOST_IP}/24`), `route add default via ${VIP}`], []),
      this.configure(this.netNs, this.netConfig(), []),
    ]);
  }

  private vethPairs(): string[] {
    const veth = (ns: string, dev: string, peerNs: string, peerDev: string) =>
      `link add ${dev} netns ${ns} type veth peer name ${peerDev} netns ${peerNs}`;
    return [
      ...Object.values(this.routers).flatMap((router) => [
        veth(router.ns, LAN_DEV, this.switchNs, `r${router.id}`),
        ...router.uplinks.map((u) => veth(router.ns, u.routerDev, u.operatorNs, `r${router.id}`)),
      ]),
      veth(this.routers[1].ns, SYNC_DEV, this.routers[2].ns, SYNC_DEV),
      veth(this.hostNs, HOST_DEV, this.switchNs, 'host'),
      ...range(UPLINKS).map((i) => veth(this.operatorNs[i - 1]!, OPERATOR_NET_DEV, this.netNs, `op${i}`)),
    ];
  }

  private async configureRouter(router: HaRouter): Promise<void> {
    await this.configure(
      router.ns,
      [
        'link set lo up',
        ...upWithAddress(LAN_DEV, `${router.lanIp}/24`),
        ...upWithAddress(SYNC_DEV, `${router.syncIp}/30`),
        ...router.uplinks.flatMap((u) => upWithAddress(u.routerDev, `${u.routerIp}/29`)),
      ],
      ['net.ipv4.ip_forward=1', 'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0'],
    );
    // The firewall first: it makes the kernel track connections, whose sysctls exist only then.
    await this.exec(router.ns, 'nft', ['-f', '-'], {
      input: lines([
        ...filterChain('forward').map((command) =>
          command.replaceAll('netgwm_test', FIREWALL_TABLE).replace('policy accept', 'policy drop'),
        ),
        `add rule inet ${FIREWALL_TABLE} forward ct state established,related accept`,
        `add rule inet ${FIREWALL_TABLE} forward iifname "${LAN_DEV}" ct state new accept`,
      ]),
    });
    // No pickup of a flow without its entry; no TCP window check on an entry (README "HA pairs":
    // after a VRRP split brain a flow returns to a router whose entry missed the window's moves).
    await this.exec(router.ns, 'sysctl', [
      '-q',
      '-w',
      'net.netfilter.nf_conntrack_tcp_loose=0',
      'net.netfilter.nf_conntrack_tcp_be_liberal=1',
    ]);
  }

  private operatorConfig(i: number): string[] {
    return [
      'link set lo up',
      `link add ${OPERATOR_BRIDGE} type bridge`,
      ...ROUTER_IDS.map((r) => `link set dev r${r} master ${OPERATOR_BRIDGE} up`),
      ...upWithAddress(OPERATOR_BRIDGE, `${gatewayIp(i)}/29`),
      ...upWithAddress(OPERATOR_NET_DEV, `${transitOperatorIp(i)}/24`),
      `route add default via ${transitNetIp(i)}`,
      `route add ${LAN_SUBNET} via ${uplinkVip(i)}`,
    ];
  }

  private switchConfig(): string[] {
    return [
      'link set lo up',
      `link add ${SWITCH_BRIDGE} type bridge`,
      `link set dev ${SWITCH_BRIDGE} up`,
      ...['r1', 'r2', 'host'].map((port) => `link set dev ${port} master ${SWITCH_BRIDGE} up`),
    ];
  }

  // Sites and server on lo; no default route, so anything else is dropped silently.
  private netConfig(): string[] {
    return [
      'link set lo up',
      ...[...SITES, SERVER_IP].map((address) => `addr add ${address}/32 dev lo`),
      ...range(UPLINKS).flatMap((i) => [
        ...upWithAddress(`op${i}`, `${transitNetIp(i)}/24`),
        `route add ${segment(i)} via ${transitOperatorIp(i)}`,
      ]),
      `route add ${LAN_SUBNET} via ${transitOperatorIp(1)}`,
    ];
  }

  private async configure(ns: string, ipCommands: string[], sysctls: string[]): Promise<void> {
    await allSettledOrThrow([
      run('ip', ['-n', ns, '-batch', '-'], { input: lines(ipCommands) }),
      sysctls.length > 0 ? run('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', ...sysctls]) : undefined,
    ]);
  }

  // ---- netgwm in the routers ----

  netgwmConfig(router: HaRouter): string {
    return join(router.runDir, 'netgwm.yml');
  }

  private lockDir(router: HaRouter): string {
    return join(router.runDir, 'lock');
  }

  private hooksDir(router: HaRouter): string {
    return join(router.runDir, 'post-replace.d');
  }

  /** keepalived's notify FIFO script: the shipped netgwm-notify, its FIFO and its --log. */
  private notifyScript(router: HaRouter): string {
    return join(router.runDir, 'netgwm-notify');
  }

  private notifyFifo(router: HaRouter): string {
    return join(router.runDir, 'notify.fifo');
  }

  private notifyLog(router: HaRouter): string {
    return join(router.runDir, 'netgwm-notify.log');
  }

  /** What keepalived runs as @NETGWM@ (/usr/bin/netgwm in the field). */
  private netgwmWrapper(router: HaRouter): string {
    return join(router.runDir, 'netgwm');
  }

  /**
   * netgwm.yml (uplinks isp1, isp2; the cluster with the peer's config and the lab's conntrackd),
   * a recording hook, and the wrapper keepalived runs: the built netgwm on this run's lock
   * directory (keepalived passes its scripts none of our environment) that logs each finished
   * `role` call's state to notify.log (what the tests wait for) and its output to role.log.
   */
  private async writeNetgwmFiles(router: HaRouter, conntrackd: boolean): Promise<void> {
    const peer = this.routers[router.id === 1 ? 2 : 1];
    const config = {
      gateways: Object.fromEntries(router.uplinks.map((u) => [`isp${u.index}`, { ip: u.gatewayIp, priority: u.index }])),
      // Short, so that a probe lost while the lab warms up delays uplink 1 by seconds, not minutes.
      min_uptime: 5,
      check_sites: SITES,
      state_dir: join(router.runDir, 'netgwm-state'),
      log_file: join(router.runDir, 'netgwm.log'),
      status_dir: join(router.runDir, 'status'),
      hooks_dir: this.hooksDir(router),
      log_level: 'debug',
      probe: { timeout: 0.5 },
      cluster: { conntrackd, conntrackd_config: this.conntrackdConf(router), peer_config: this.netgwmConfig(peer) },
    };
    await writeFile(this.netgwmConfig(router), stringify(config));
    await mkdir(this.hooksDir(router), { recursive: true });
    await writeFile(join(this.hooksDir(router), '50-record'), RECORDING_HOOK, { mode: 0o755 });
    const dir = router.runDir;
    await writeFile(
      this.netgwmWrapper(router),
      `#!/bin/sh
if [ "$1" = role ]; then
	NETGWM_LOCK_DIR=${this.lockDir(router)} ${process.execPath} ${NETGWM_PROGRAM} "$@" >> ${join(dir, 'role.log')} 2>&1
	code=$?
	echo "$2" | tr a-z A-Z >> ${join(dir, 'notify.log')}
	exit $code
fi
NETGWM_LOCK_DIR=${this.lockDir(router)} exec ${process.execPath} ${NETGWM_PROGRAM} "$@"
`,
      { mode: 0o755 },
    );
  }

  /** The router's conntrackd.conf, which it sees as /etc/conntrackd/conntrackd.conf. */
  conntrackdConf(router: HaRouter): string {
    return join(router.etcDir, 'conntrackd', 'conntrackd.conf');
  }

  /**
   * Starts a long-running program in one of our namespaces, its output appended to `logFile`;
   * destroy() kills it with everything else in the namespace.
   */
  startProcess(ns: string, file: string, args: string[], logFile: string, env: Record<string, string> = {}): ChildProcess {
    if (!this.namespaces.includes(ns)) throw new Error(`${ns} is not a namespace of HA network ${this.prefix}`);
    const log = openSync(logFile, 'a');
    try {
      return this.spawnIn(ns, file, args, log, env);
    } finally {
      closeSync(log);
    }
  }

  // `ip netns exec` execs the program, so the child's PID is the program's own.
  private spawnIn(ns: string, file: string, args: string[], output: number | 'pipe', env: Record<string, string> = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', ns, file, ...args], {
      stdio: ['ignore', output, output === 'pipe' ? 'inherit' : output],
      env: { ...process.env, ...env },
    });
    this.children.add(child);
    child.on('exit', () => this.children.delete(child));
    child.on('error', (error) => warn(`${file} in ${ns}: ${String(error)}`));
    return child;
  }

  private existingNamespaces(): string[] {
    return this.namespaces.filter((ns) => existsSync(join(NETNS_RUN_DIR, ns)));
  }

  private deleteBatch(): string {
    const existing = this.existingNamespaces();
    return existing.length > 0 ? lines(existing.map((ns) => `netns del ${ns}`)) : '';
  }
}

/** What the LAN host's TCP client has seen: the latest status line it printed. */
export class StreamClient {
  private latest: StreamStatus = { connected: false, closed: false, bytes: 0, resets: 0, errors: [], maxGapMs: 0 };
  private buffered = '';

  constructor(private readonly child: ChildProcess) {
    child.stdout?.on('data', (data: Buffer) => {
      this.buffered += data.toString();
      const complete = this.buffered.split('\n');
      this.buffered = complete.pop() ?? '';
      const last = complete.filter(Boolean).at(-1);
      if (last) this.latest = JSON.parse(last) as StreamStatus;
    });
  }

  status(): StreamStatus {
    return this.latest;
  }

  /** Waits until at least `bytes` more than now have arrived (hang guard `timeoutMs`). */
  async waitForMoreBytes(bytes: number, timeoutMs = 60_000): Promise<StreamStatus> {
    const target = this.latest.bytes + bytes;
    return waitFor(
      `${bytes} more bytes on the stream (at ${this.latest.bytes})`,
      async () => (this.latest.bytes >= target || this.latest.closed ? this.latest : undefined),
      timeoutMs,
    );
  }

  stop(): void {
    this.child.kill('SIGKILL');
  }
}

function pidsIn(ns: string): number[] {
  try {
    return execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', timeout: 10_000 })
      .split('\n')
      .filter(Boolean)
      .map(Number)
      .filter((pid) => Number.isInteger(pid) && pid > 1);
  } catch {
    return [];
  }
}

/** A process's arguments (argv[0] first); none once it has ended. */
function commandLine(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return [];
  }
}

/** The file's status (following links, as /proc/PID/fd/N); undefined when it is gone. */
function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** SIGKILLs every process in `ns` (each started by this network) and waits, bounded, until none is left. */
async function killAllIn(ns: string): Promise<void> {
  for (let round = 0; round < 50; round++) {
    const pids = pidsIn(ns);
    if (pids.length === 0) return;
    for (const pid of pids) killQuietly(pid);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  warn(`processes still running in ${ns} after 5 s: ${pidsIn(ns).join(', ')}`);
}

function warn(message: string): void {
  process.stderr.write(`HA test network: ${message}\n`);
}
