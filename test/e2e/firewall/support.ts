// What the firewall e2e tests share: uplink routing tables in the router, marked gateways, and
// ways to look at the result (netgwm's nft table as JSON, the router's conntrack table, packet
// counters in the operator namespaces, TCP endpoints in the LAN and net namespaces).
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import type { Harness } from '../harness.js';
import type { TestNetwork } from '../../../scripts/testnet/network.js';

const projectRoot = fileURLToPath(new URL('../../../', import.meta.url));
const TCP_FIXTURE = fileURLToPath(new URL('fixtures/tcp.ts', import.meta.url));
const OBSERVER_TABLE = 'netgwm_observe';

/** Routing table of uplink i in the router: number 100 + i, named `uplinkI`. */
export const uplinkTable = (i: number) => ({ id: 100 + i, name: `uplink${i}` });

/** Declares each uplink's table in the router's rt_tables and gives it the uplink's default route. */
export async function addUplinkTables(net: TestNetwork): Promise<void> {
  await appendFile(
    join(net.routerEtcDir, 'iproute2', 'rt_tables'),
    net.uplinks.map((u) => `${uplinkTable(u.index).id}\t${uplinkTable(u.index).name}\n`).join(''),
  );
  const script = net.uplinks
    .map((u) => `route add default via ${u.gatewayIp} dev ${u.routerDev} table ${uplinkTable(u.index).id}`)
    .join('\n');
  await net.exec(net.routerNs, 'ip', ['-batch', '-'], { input: `${script}\n` });
}

/** isp1…ispN with ip, dev, mark i and (with `tables`) the uplink's table: for `h.writeConfig`. */
export function markedGateways(net: TestNetwork, options: { tables?: boolean } = {}): Record<string, unknown> {
  return Object.fromEntries(
    net.uplinks.map((u) => [
      `isp${u.index}`,
      {
        ip: u.gatewayIp,
        dev: u.routerDev,
        priority: u.index,
        mark: u.index,
        ...(options.tables ? { table: uplinkTable(u.index).name } : {}),
      },
    ]),
  );
}

interface NftRule {
  comment?: string;
  expr: Array<Record<string, unknown>>;
}

async function nftRules(net: TestNetwork, ns: string, table: string): Promise<NftRule[]> {
  const { stdout } = await net.exec(ns, 'nft', ['-j', 'list', 'table', ...table.split(' ')]);
  return (JSON.parse(stdout) as { nftables: Array<{ rule?: NftRule }> }).nftables.flatMap((item) => (item.rule ? [item.rule] : []));
}

/** `nft -j list table inet netgwm`: the mark each "active …" rule gives new connections. */
export async function activeMarks(net: TestNetwork, table = 'inet netgwm'): Promise<Array<{ comment: string; mark: number }>> {
  return (await nftRules(net, net.routerNs, table))
    .filter((rule) => rule.comment?.startsWith('active '))
    .map((rule) => {
      const mangle = rule.expr.find((expr) => 'mangle' in expr)!.mangle as { value: number | { '|': [unknown, number] } };
      return { comment: rule.comment!, mark: typeof mangle.value === 'number' ? mangle.value : mangle.value['|'][1] };
    });
}

export interface Flow {
  proto: string;
  src: string;
  sport?: number;
  dport?: number;
  mark: number;
}

/** The router's conntrack table (`conntrack -L`), original direction only. */
export async function routerFlows(net: TestNetwork): Promise<Flow[]> {
  const { stdout } = await net.exec(net.routerNs, 'conntrack', ['-L']);
  return stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const field = (name: string) => new RegExp(`\\b${name}=(\\S+)`).exec(line)?.[1];
      return {
        proto: line.split(/\s+/)[0]!,
        src: field('src')!,
        sport: Number(field('sport')) || undefined,
        dport: Number(field('dport')) || undefined,
        mark: Number(field('mark') ?? 0),
      };
    });
}

/** Adds a test entry to the router's conntrack table, as if a LAN flow had been marked. */
export async function insertFlow(
  net: TestNetwork,
  flow: { proto: 'tcp' | 'udp'; sport: number; dport: number; mark: number },
): Promise<void> {
  const state = flow.proto === 'tcp' ? ['--state', 'ESTABLISHED', '-u', 'SEEN_REPLY'] : [];
  await net.exec(net.routerNs, 'conntrack', [
    '-I',
    '-s',
    net.lanHostIp,
    '-d',
    net.sites[0]!,
    '-p',
    flow.proto,
    '--sport',
    String(flow.sport),
    '--dport',
    String(flow.dport),
    ...state,
    '-t',
    '600',
    '-m',
    String(flow.mark),
  ]);
}

/**
 * Counts, in every operator namespace, the TCP packets from the LAN host to each port it
 * forwards: which uplink a LAN connection really left by.
 */
export async function watchLanPorts(net: TestNetwork, ports: number[]): Promise<void> {
  const rules = ports.map(
    (port) => `add rule inet ${OBSERVER_TABLE} forward ip saddr ${net.lanHostIp} tcp dport ${port} counter comment "${port}"`,
  );
  const script = [
    `add table inet ${OBSERVER_TABLE}`,
    `add chain inet ${OBSERVER_TABLE} forward { type filter hook forward priority -10 ; policy accept ; }`,
    ...rules,
  ].join('\n');
  await Promise.all(net.uplinks.map((u) => net.exec(u.operatorNs, 'nft', ['-f', '-'], { input: `${script}\n` })));
}

/** Packets counted by watchLanPorts: `[operator i] → port → packets`. */
export async function lanPortCounts(net: TestNetwork): Promise<Record<string, Record<number, number>>> {
  const counts: Record<string, Record<number, number>> = {};
  for (const u of net.uplinks) {
    counts[`isp${u.index}`] = Object.fromEntries(
      (await nftRules(net, u.operatorNs, `inet ${OBSERVER_TABLE}`)).map((rule) => {
        const counter = rule.expr.find((expr) => 'counter' in expr)!.counter as { packets: number };
        return [Number(rule.comment), counter.packets];
      }),
    );
  }
  return counts;
}

export interface Endpoint {
  process: ResultPromise;
  /** The first line it printed ("listening", "connected PORT", "answered", or "error …"). */
  firstLine: string;
}

/** Starts fixtures/tcp.ts in a namespace and waits (at most 10 s) for its first line. */
export async function startTcp(net: TestNetwork, ns: string, args: string[]): Promise<Endpoint> {
  if (!net.namespaces.includes(ns)) throw new Error(`${ns} is not a namespace of this network`);
  const child = execa('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', TCP_FIXTURE, ...args], {
    cwd: projectRoot,
    reject: false,
    timeout: 60_000,
    stdin: 'ignore',
  });
  const firstLine = await new Promise<string>((resolve) => {
    let text = '';
    const timer = setTimeout(() => resolve(`error: no output after 10 s`), 10_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes('\n')) {
        clearTimeout(timer);
        resolve(text.split('\n')[0]!);
      }
    });
    void child.then(() => {
      clearTimeout(timer);
      resolve(text.split('\n')[0] || 'error: exited without output');
    });
  });
  return { process: child, firstLine };
}

/** One connection from the LAN host to `port` on the first site: true when the echo came back. */
export async function lanConnects(net: TestNetwork, port: number): Promise<boolean> {
  const { firstLine, process: child } = await startTcp(net, net.lanNs, ['once', net.sites[0]!, String(port), '5000']);
  await child;
  return firstLine === 'answered';
}

/** Lines of netgwm's log from `from` on that match `pattern`, with the time stamp cut off. */
export async function logSince(h: Harness, from: number, pattern: RegExp): Promise<string[]> {
  return (await h.logLines())
    .slice(from)
    .filter((line) => pattern.test(line))
    .map((line) => line.replace(/^\S+ \S+ /, ''));
}

const UDP_FIXTURE = fileURLToPath(new URL('fixtures/udp.ts', import.meta.url));

/** Sends one datagram from the LAN host to each of `count` ports from `firstPort` on: that many new flows. */
export async function lanUdpFlows(net: TestNetwork, target: string, firstPort: number, count: number): Promise<string> {
  const { stdout } = await execa(
    'ip',
    ['netns', 'exec', net.lanNs, process.execPath, '--import', 'tsx', UDP_FIXTURE, 'flows', target, String(firstPort), String(count)],
    { cwd: projectRoot, reject: false, timeout: 120_000, stdin: 'ignore' },
  );
  return String(stdout).trim();
}

/**
 * Counts, in every operator namespace, the UDP packets from the LAN host to ports `low`–`high`
 * (rule comment `udp LOW`), beside watchLanPorts' TCP counters.
 */
export async function watchLanUdp(net: TestNetwork, low: number, high: number): Promise<void> {
  const script = [
    `add table inet ${OBSERVER_TABLE}`,
    `add chain inet ${OBSERVER_TABLE} forward { type filter hook forward priority -10 ; policy accept ; }`,
    `add rule inet ${OBSERVER_TABLE} forward ip saddr ${net.lanHostIp} udp dport ${low}-${high} counter comment "udp ${low}"`,
  ].join('\n');
  await Promise.all(net.uplinks.map((u) => net.exec(u.operatorNs, 'nft', ['-f', '-'], { input: `${script}\n` })));
}

/** Packets counted by watchLanUdp for the range starting at `low`, per operator: `{ isp1: n, … }`. */
export async function lanUdpCounts(net: TestNetwork, low: number): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const u of net.uplinks) {
    const rule = (await nftRules(net, u.operatorNs, `inet ${OBSERVER_TABLE}`)).find((candidate) => candidate.comment === `udp ${low}`);
    counts[`isp${u.index}`] = rule ? (rule.expr.find((expr) => 'counter' in expr)!.counter as { packets: number }).packets : 0;
  }
  return counts;
}
