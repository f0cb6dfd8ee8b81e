// The tcp, http and dns probes on a real dual-stack namespace network: with the probe paths'
// `sport` rules installed, probeSite for gateway 2 (run in the router namespace) leaves through
// uplink 2 only, its name lookups included; an ordinary connection of the router to the same
// site follows the main table (uplink 1); `netgwm cleanup`'s removal takes the rules away.
// The servers (HTTP on port 80, a DNS server for check.test on port 53) are a small Node script
// in the sites' namespace, started here.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestNetwork } from '../../../scripts/testnet/network.js';
import { probePorts } from '../../../src/config/probe-paths.js';
import type { DnsSite, HttpSite, MethodSite, TcpSite } from '../../../src/core/check-site.js';
import type { Gateway } from '../../../src/core/types.js';
import type { SiteProbePath, SiteProbeResult } from '../../../src/probe/site-probe.js';
import { createExec, type Exec } from '../../../src/system/exec.js';
import { removeProbePaths, syncProbePaths } from '../../../src/system/probe-paths.js';
import { runFixture } from './fixtures/child.js';
import type { SiteProbeJob } from './fixtures/site-probe.js';

const MARK = 0x4e470000;
const CHECK_TABLE = 194;
const PORT_BASE = 61000;
const COUNTERS = 'ngwsp_count';

// The sites' servers: HTTP answers 204 to every request; DNS answers check.test (A and AAAA) and
// NXDOMAIN for anything else. HTTP on every address; DNS on each site address on its own, so that
// an answer comes from the address asked (a socket on the wildcard address would answer from
// whichever address the route prefers, which a connected client ignores).
const SERVERS = `
const net = require('node:net'), dgram = require('node:dgram');
const [a, aaaa, ...addresses] = process.argv.slice(1);
const http = net.createServer((socket) => {
  socket.on('error', () => {});
  let request = '';
  socket.on('data', (chunk) => {
    request += chunk;
    if (request.includes('\\r\\n\\r\\n')) socket.end('HTTP/1.1 204 No Content\\r\\nContent-Length: 0\\r\\n\\r\\n');
  });
});
const answer = (dns) => (query, from) => {
  let at = 12; const labels = [];
  while (query[at]) { labels.push(query.toString('latin1', at + 1, at + 1 + query[at])); at += 1 + query[at]; }
  const type = query.readUInt16BE(at + 1);
  const question = query.subarray(12, at + 5);
  const header = Buffer.from(query.subarray(0, 12));
  const known = labels.join('.').toLowerCase() === 'check.test';
  const data = type === 1 ? Buffer.from(a.split('.').map(Number)) : type === 28 ? Buffer.from(aaaa, 'hex') : undefined;
  header.writeUInt16BE(0x8180 | (known ? 0 : 3), 2);
  header.writeUInt16BE(known && data ? 1 : 0, 6);
  header.writeUInt32BE(0, 8);
  const record = known && data ? Buffer.concat([Buffer.from([0xc0, 12, 0, type, 0, 1, 0, 0, 0, 60, 0, data.length]), data]) : Buffer.alloc(0);
  dns.send(Buffer.concat([header, question, record]), from.port, from.address);
};
let ready = 0;
const up = () => { if (++ready === 1 + addresses.length) process.stdout.write('ready\\n'); };
http.listen({ port: 80, host: '::' }, up);
for (const address of addresses) {
  const dns = dgram.createSocket(address.includes(':') ? 'udp6' : 'udp4');
  dns.on('message', answer(dns));
  dns.bind({ port: 53, address }, up);
}
`;

let net: TestNetwork;
let servers: ResultPromise | undefined;
const routerExec: Exec = (file, args, options) => createExec()('ip', ['netns', 'exec', net.routerNs, file, ...args], options);
const routerIp = async (...args: string[]) => (await net.exec(net.routerNs, 'ip', args)).stdout;

function gateways(family: 4 | 6): Gateway[] {
  return net.uplinks.map((uplink) => ({
    name: `isp${uplink.index}`,
    ip: family === 6 ? uplink.gatewayIp6! : uplink.gatewayIp,
    dev: uplink.routerDev,
    priority: uplink.index,
    probe: { mark: MARK + uplink.index, table: CHECK_TABLE + uplink.index, ports: probePorts(PORT_BASE, uplink.index) },
    ...(family === 6 && { family: 6 as const }),
  }));
}

/** The probe paths' config of one family, with a method site (which makes them include the `sport` rules). */
function config(family: 4 | 6) {
  return {
    ...(family === 6 && { family: 6 as const }),
    gateways: gateways(family),
    check_table_id: CHECK_TABLE,
    check_sites: [`tcp:${net.sites[0]}:80`],
    probe: { mark: MARK, rule_pref: 1000 },
  } as Parameters<typeof syncProbePaths>[1];
}

const pathOf = (index: number, family: 4 | 6 = 4): SiteProbePath => ({ family, ports: probePorts(PORT_BASE, index) });

const probe = (jobs: SiteProbeJob[], ns = net.routerNs) =>
  runFixture<SiteProbeResult[]>(ns, 'site-probe.ts', jobs, { hardTimeoutMs: 60_000 });

/** A counter of TCP and UDP packets to the sites each operator forwards (before its own drop rules). */
async function installCounters(): Promise<void> {
  const commands = [
    `add table inet ${COUNTERS}`,
    `add chain inet ${COUNTERS} forward { type filter hook forward priority -10 ; policy accept ; }`,
    `add rule inet ${COUNTERS} forward iifname "to-router" meta l4proto { tcp, udp } counter`,
  ];
  for (const uplink of net.uplinks) await net.exec(uplink.operatorNs, 'nft', ['-f', '-'], { input: `${commands.join('\n')}\n` });
}

async function packetsSeen(): Promise<number[]> {
  return Promise.all(
    net.uplinks.map(async (uplink) => {
      const { stdout } = await net.exec(uplink.operatorNs, 'nft', ['-j', 'list', 'chain', 'inet', COUNTERS, 'forward']);
      const rules = (JSON.parse(stdout) as { nftables: Array<{ rule?: { expr: Array<{ counter?: { packets: number } }> } }> }).nftables;
      return rules.flatMap((entry) => entry.rule?.expr ?? []).find((expr) => expr.counter)?.counter?.packets ?? 0;
    }),
  );
}

/** What `work` made each operator forward (TCP and UDP packets from the router), by uplink. */
async function packetsDuring<T>(work: () => Promise<T>): Promise<{ result: T; seen: number[] }> {
  const before = await packetsSeen();
  const result = await work();
  return { result, seen: (await packetsSeen()).map((count, index) => count - before[index]!) };
}

beforeAll(async () => {
  net = await TestNetwork.create({ uplinks: 2, sites: 2, ipv6: true });
  await installCounters();
  // The router's own traffic (the main table) goes out through uplink 1.
  await net.exec(net.routerNs, 'ip', ['route', 'add', 'default', 'via', net.uplink(1).gatewayIp]);
  await net.exec(net.routerNs, 'ip', ['-6', 'route', 'add', 'default', 'via', net.uplink(1).gatewayIp6!]);
  await writeFile(join(net.routerEtcDir, 'resolv.conf'), `nameserver 127.0.0.53\nnameserver ${net.sites[1]}\n`);
  servers = execa(
    'ip',
    ['netns', 'exec', net.netNs, process.execPath, '-e', SERVERS, net.sites[0]!, expandIpv6(net.sites6[0]!), ...net.sites, ...net.sites6],
    {
      reject: false,
      stdin: 'ignore',
    },
  );
  await new Promise<void>((resolve, reject) => {
    const guard = setTimeout(() => reject(new Error('the servers did not start within 30 s')), 30_000);
    servers!.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) {
        clearTimeout(guard);
        resolve();
      }
    });
    void servers!.then((result) => reject(new Error(`the servers exited: ${String(result.stderr)}`)));
  });
  expect((await syncProbePaths(routerExec, config(4))).unreachable).toEqual({});
  expect((await syncProbePaths(routerExec, config(6))).unreachable).toEqual({});
});
afterAll(async () => {
  if (servers && servers.exitCode === null) servers.kill('SIGKILL');
  await servers?.catch(() => undefined);
  await net?.destroy();
});

/** `2001:db8:ff::1` as 32 hex digits. */
function expandIpv6(address: string): string {
  const [head, tail = ''] = address.split('::') as [string, string?];
  const groups = (part: string) => (part === '' ? [] : part.split(':'));
  const missing = 8 - groups(head).length - groups(tail).length;
  return [...groups(head), ...Array.from({ length: missing }, () => '0'), ...groups(tail)].map((group) => group.padStart(4, '0')).join('');
}

describe('method probes through the gateway under test (2 uplinks, dual stack)', () => {
  const tcp = (host: string, port = 80): TcpSite => ({ method: 'tcp', key: `tcp:${host}:${port}`, host, port });
  const http = (host: string, server?: string): HttpSite => {
    const url = `http://${host.includes(':') ? `[${host}]` : host}/generate_204`;
    return { method: 'http', key: url, url, host, port: 80, tls: false, insecure: false, expect: 204, ...(server && { server }) };
  };
  const dns = (server: string, type: 'A' | 'AAAA' = 'A'): DnsSite => ({
    method: 'dns',
    key: `dns:check.test@${server}/${type}`,
    name: 'check.test',
    server,
    type,
  });
  const jobs = (sites: MethodSite[], index: number, family: 4 | 6 = 4): SiteProbeJob[] =>
    sites.map((site) => ({ site, path: pathOf(index, family), timeoutMs: 5000 }));

  it('installs one sport rule per gateway and family beside its fwmark rule', async () => {
    expect(await routerIp('rule', 'list')).toContain(`1000:\tfrom all iif lo sport 61064-61127 lookup 196`);
    expect(await routerIp('-6', 'rule', 'list')).toContain(`1000:\tfrom all iif lo sport 61064-61127 lookup 196`);
    expect(await syncProbePaths(routerExec, config(4))).toMatchObject({ repaired: [] });
  });

  it("gateway 2's tcp, http (its name resolved through resolv.conf's server) and dns probes leave through uplink 2 only", async () => {
    const sites = [tcp(net.sites[0]!), tcp(net.sites[0]!, 81), http('check.test'), http(net.sites[0]!), dns(net.sites[1]!)];
    const { result, seen } = await packetsDuring(() => probe(jobs(sites, 2)));
    expect(result).toEqual(sites.map(() => ({ answered: true, rttMs: expect.any(Number) })));
    expect(seen[0]).toBe(0);
    expect(seen[1]).toBeGreaterThan(0);
  });

  it('the same over IPv6: AAAA lookups, tcp and dns to IPv6 addresses', async () => {
    const sites = [tcp(net.sites6[0]!), http('check.test', net.sites6[1]!), dns(net.sites6[1]!, 'AAAA')];
    const { result, seen } = await packetsDuring(() => probe(jobs(sites, 2, 6)));
    expect(result).toEqual(sites.map(() => ({ answered: true, rttMs: expect.any(Number) })));
    expect(seen).toEqual([0, expect.any(Number)]);
    expect(seen[1]).toBeGreaterThan(0);
  });

  it("an ordinary connection of the router to the same site follows the main table (uplink 1); gateway 1's probes take uplink 1", async () => {
    const plain = await packetsDuring(() => probe([{ plain: { host: net.sites[0]!, port: 80 }, timeoutMs: 5000 }]));
    expect(plain.result).toEqual([{ answered: true }]);
    expect(plain.seen[0]).toBeGreaterThan(0);
    expect(plain.seen[1]).toBe(0);
    const first = await packetsDuring(() => probe(jobs([tcp(net.sites[0]!), dns(net.sites[1]!)], 1)));
    expect(first.result.every((result) => result.answered)).toBe(true);
    expect(first.seen[1]).toBe(0);
  });

  it("a LAN host's connection from a port of gateway 2's range is forwarded by the main table (the rules are for the router's own sockets)", async () => {
    const localPort = pathOf(2).ports.from + 5;
    const lan = await packetsDuring(() => probe([{ plain: { host: net.sites[0]!, port: 80, localPort }, timeoutMs: 5000 }], net.lanNs));
    expect(lan.result).toEqual([{ answered: true }]);
    expect(lan.seen[0]).toBeGreaterThan(0);
    expect(lan.seen[1]).toBe(0);
  });

  it("a dead operator 2 fails gateway 2's probes (no fall-through to main) and not gateway 1's; and the other way round", async () => {
    const sites = [tcp(net.sites[0]!), http('check.test'), dns(net.sites[1]!)];
    const both = [...jobs(sites, 1), ...jobs(sites, 2)].map((job) => ({ ...job, timeoutMs: 1000 }));
    await net.failOperator(2);
    try {
      const results = await probe(both);
      expect(results.slice(0, 3).map((result) => result.answered)).toEqual([true, true, true]);
      expect(results.slice(3)).toEqual([
        { answered: false, error: 'timeout' },
        { answered: false, error: 'cannot resolve check.test: timeout' },
        { answered: false, error: 'timeout' },
      ]);
    } finally {
      await net.restoreOperator(2);
    }
    await net.failOperator(1);
    try {
      const results = await probe(both);
      expect(results.slice(0, 3).map((result) => result.answered)).toEqual([false, false, false]);
      expect(results.slice(3).map((result) => result.answered)).toEqual([true, true, true]);
    } finally {
      await net.restoreOperator(1);
    }
  });

  it('the removal (netgwm cleanup) takes the sport rules away with the paths, in both families', async () => {
    expect(await removeProbePaths(routerExec, config(4))).toEqual(
      expect.arrayContaining([
        'ip rule del pref 1000 iif lo sport 61000-61063 lookup 195',
        'ip rule del pref 1000 iif lo sport 61064-61127 lookup 196',
      ]),
    );
    expect(await removeProbePaths(routerExec, config(6))).toContain('ip -6 rule del pref 1000 iif lo sport 61064-61127 lookup 196');
    expect(await routerIp('rule', 'list')).not.toMatch(/sport/);
    expect(await routerIp('-6', 'rule', 'list')).not.toMatch(/sport/);
    // Without the rules, gateway 2's ports follow the main table like any other.
    const { seen } = await packetsDuring(() => probe(jobs([tcp(net.sites[0]!)], 2)));
    expect(seen[1]).toBe(0);
  });
});
