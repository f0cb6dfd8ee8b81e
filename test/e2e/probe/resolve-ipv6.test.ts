// AAAA check sites on a real dual-stack namespace network: a real dnsmasq in the net namespace
// answers A and AAAA queries; resolveSites runs in the router namespace (its own /etc/hosts and
// resolv.conf, see scripts/testnet/network.ts) in a child process.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestNetwork } from '../../../scripts/testnet/network.js';
import type { ProbeTarget } from '../../../src/probe/resolve.js';
import { waitFor } from '../harness.js';
import { type ResolveJob, runFixture } from './fixtures/child.js';

let net: TestNetwork;
let dnsmasq: ResultPromise | undefined;
const resolve = (job: ResolveJob) => runFixture<ProbeTarget[]>(net.routerNs, 'resolve.ts', job, { hardTimeoutMs: 30_000 });

beforeAll(async () => {
  net = await TestNetwork.create({ uplinks: 1, sites: 2, ipv6: true });
  const dnsServer = net.sites6[0]!;
  dnsmasq = execa(
    'ip',
    [
      ...['netns', 'exec', net.netNs, 'dnsmasq', '--keep-in-foreground', '--conf-file=/dev/null', '--no-hosts', '--no-resolv'],
      ...[`--listen-address=${dnsServer}`, '--bind-interfaces', '--user=root', '--log-facility=-', '--pid-file='],
      `--host-record=dual.example,${net.sites[1]},${net.sites6[1]}`,
      `--host-record=v4only.example,${net.sites[1]}`,
    ],
    { reject: false, stdin: 'ignore' },
  );
  await writeFile(join(net.routerEtcDir, 'resolv.conf'), `nameserver ${dnsServer}\n`);
  await net.setHosts({ 'hosts6.example': net.sites6[0]! });
  await net.exec(net.routerNs, 'ip', ['-6', 'route', 'add', 'default', 'via', net.uplink(1).gatewayIp6!]);
});
afterAll(async () => {
  if (dnsmasq && dnsmasq.exitCode === null) {
    dnsmasq.kill('SIGTERM');
    await Promise.race([dnsmasq, new Promise((done) => setTimeout(done, 5000).unref())]);
    if (dnsmasq.exitCode === null) dnsmasq.kill('SIGKILL');
  }
  await net?.destroy();
});

describe('resolveSites with family 6 in a namespace with a real DNS server', () => {
  it('resolves a name to its AAAA record (and to its A record for family 4)', async () => {
    // dnsmasq starts listening a moment after it was started: ask until it answers (a hang guard).
    let six: ProbeTarget[] = [];
    const answered = await waitFor(async () => {
      six = await resolve({ sites: ['dual.example'], family: 6, timeoutMs: 1000 });
      return six[0]?.address !== undefined;
    }, 30_000);
    expect(answered).toBe(true);
    expect(six).toEqual([{ site: 'dual.example', address: net.sites6[1] }]);
    expect(await resolve({ sites: ['dual.example'], timeoutMs: 2000 })).toEqual([{ site: 'dual.example', address: net.sites[1] }]);
  });

  it('a name with an A record only does not resolve for IPv6; the IPv6 hosts entry is used for family 6 only', async () => {
    const targets = await resolve({ sites: ['v4only.example', 'hosts6.example', net.sites6[1]!], family: 6, timeoutMs: 2000 });
    expect(targets).toEqual([
      { site: 'v4only.example', skipped: 'name did not resolve' },
      { site: 'hosts6.example', address: net.sites6[0] },
      { site: net.sites6[1], address: net.sites6[1] },
    ]);
  });
});
