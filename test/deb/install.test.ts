// The proof of the Debian package: build it (lintian must find no error), install it with apt into
// a clean Debian 12 root that has Debian's own nodejs, and use it there as an admin would: the
// version, the shipped config, a real cycle on a namespace network with the root's own ip, ping
// and node, the unit, logrotate, an upgrade that keeps an edited config, and a purge that leaves
// nothing behind. Slow (about two minutes with the cached root); part of `npm test`.
import { chmod, copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { DebianRoot } from '../support/debian-root.js';
import { TestNetwork } from '../../scripts/testnet/network.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const LONG = 600_000;

// A hook as an admin would add one: it records its arguments.
const RECORDING_HOOK = '#!/bin/sh\necho "$*" >> /var/tmp/hook-calls\n';

/** `debian/build-deb.sh`, lintian included; returns the .deb's path (its last line of output). */
async function buildDeb(out: string): Promise<string> {
  const result = await execa(join(REPO, 'debian/build-deb.sh'), [], { env: { NETGWM_DEB_OUT: out }, all: true, reject: false, timeout: LONG });
  if (result.exitCode !== 0) throw new Error(`debian/build-deb.sh failed (${result.exitCode}):\n${String(result.all).slice(-4000)}`);
  return String(result.stdout).trim().split('\n').at(-1)!;
}

/**
 * The same package under a lower version, standing in for the previous release: what an upgrade
 * must do with an edited conffile is dpkg's conffile logic plus our maintainer scripts, and both
 * are the same in the two builds.
 */
async function previousRelease(deb: string, dir: string): Promise<string> {
  const tree = join(dir, 'previous');
  await execa('dpkg-deb', ['-R', deb, tree]);
  const control = join(tree, 'DEBIAN/control');
  await writeFile(control, (await readFile(control, 'utf8')).replace(/^Version: (.*)$/m, 'Version: $1~previous'));
  const previous = join(dir, 'netgwm-previous.deb');
  await execa('dpkg-deb', ['--root-owner-group', '-b', tree, previous]);
  return previous;
}

async function missingCommands(names: string[]): Promise<string[]> {
  const found = await Promise.all(names.map((name) => execa('sh', ['-c', 'command -v "$1"', 'sh', name], { reject: false })));
  return names.filter((_, i) => found[i]!.exitCode !== 0);
}

describe('the Debian package in a clean Debian 12 root', () => {
  let work: string;
  let deb: string;
  let root: DebianRoot;
  let net: TestNetwork;
  let filesBefore: string[];
  let version: string;
  const inRoot = (argv: string[], options = {}) => root.run(argv, options);
  const inRouter = (argv: string[]) => root.run(argv, { netns: net.routerNs, reject: false });
  const rootFile = (path: string) => readFile(root.path(path), 'utf8');

  beforeAll(async () => {
    const missing = await missingCommands(['dpkg-buildpackage', 'dh', 'lintian', 'debootstrap']);
    if (missing.length > 0) throw new Error(`the package test needs ${missing.join(', ')}: apt-get install dpkg-dev debhelper lintian debootstrap`);
    work = await mkdtemp(join(tmpdir(), 'netgwm-deb-test-'));
    const started = performance.now();
    deb = await buildDeb(join(work, 'out'));
    const built = performance.now();
    root = await DebianRoot.create();
    // The package's dependencies first, so that the files they bring are there before and after.
    const fields = await execa('dpkg-deb', ['-f', deb, 'Depends', 'Recommends', 'Version']);
    const field = (name: string) => new RegExp(`^${name}: (.*)$`, 'm').exec(fields.stdout)![1]!;
    version = field('Version');
    await inRoot(['apt-get', 'update', '-q']);
    // man-db too, as on most systems, so that systemd-analyze can check the unit's Documentation=.
    await inRoot(['apt-get', 'satisfy', '-y', '-q', '--no-install-recommends', `${field('Depends')}, ${field('Recommends')}, man-db`]);
    filesBefore = await root.files();
    await copyFile(deb, root.path('/tmp/netgwm.deb'));
    await copyFile(await previousRelease(deb, work), root.path('/tmp/netgwm-previous.deb'));
    net = await TestNetwork.create({ uplinks: 2, sites: 2 });
    process.stdout.write(`deb test: build ${((built - started) / 1000).toFixed(1)} s, root ready ${((performance.now() - built) / 1000).toFixed(1)} s\n`);
  }, LONG);

  afterAll(async () => {
    await net?.destroy();
    await root?.destroy();
    if (work) await rm(work, { recursive: true, force: true });
  }, LONG);

  it('installs with apt, bringing nothing that the dependencies did not', async () => {
    const result = await inRoot(['apt-get', 'install', '-y', '-q', '--no-install-recommends', '/tmp/netgwm-previous.deb']);
    expect(result.stdout).toMatch(/^0 upgraded, 1 newly installed, 0 to remove/m);
    expect((await inRoot(['dpkg-query', '-W', '-f', '${Version}', 'netgwm'])).stdout).toBe(`${version}~previous`);
  });

  it('runs on Debian\'s own nodejs: --version, --help, the manual page', async () => {
    expect((await inRoot(['node', '--version'])).stdout).toMatch(/^v18\./);
    const pkg = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as { version: string };
    expect((await inRoot(['netgwm', '--version'])).stdout).toBe(pkg.version);
    expect((await inRoot(['netgwm', '--help'])).stdout).toMatch(/^Usage: netgwm \[COMMAND\]/);
    expect((await inRoot(['man', '-P', 'cat', 'netgwm'])).stdout).toMatch(/^NAME\s+netgwm - keep a Linux router's default route on the best working uplink$/m);
  });

  it('ships a config that validates, with its check table declared in rt_tables.d', async () => {
    const result = await inRoot(['netgwm', 'check-config']);
    expect(result.stdout).toMatch(/^check_table: netgwm_check \(table 194\)$/m);
    expect(await rootFile('/etc/iproute2/rt_tables.d/netgwm.conf')).toMatch(/^194\tnetgwm_check$/m);
    const conffiles = (await inRoot(['dpkg-query', '-W', '-f', '${Conffiles}', 'netgwm'])).stdout;
    for (const file of ['/etc/netgwm/netgwm.yml', '/etc/default/netgwm', '/etc/cron.d/netgwm', '/etc/logrotate.d/netgwm', '/etc/iproute2/rt_tables.d/netgwm.conf']) {
      expect(conffiles).toContain(` ${file} `);
    }
  });

  it('leaves the service disabled and the cron line commented out', async () => {
    expect((await inRoot(['systemctl', 'is-enabled', 'netgwm.service'], { reject: false })).stdout).toBe('disabled');
    expect(await rootFile('/etc/cron.d/netgwm')).toMatch(/^#\* \* \* \* \*\troot\t\[ -x \/usr\/bin\/netgwm \] && netgwm run$/m);
    expect(await rootFile('/etc/default/netgwm')).toMatch(/^INTERVAL=60$/m);
  });

  it('has a unit that systemd-analyze verify accepts', async () => {
    const result = await inRoot(['systemd-analyze', 'verify', '/lib/systemd/system/netgwm.service'], { reject: false });
    expect(result.stderr.split('\n').filter((line) => line.includes('netgwm'))).toEqual([]);
    expect(result.exitCode).toBe(0);
  });

  it('runs real cycles in the router namespace, probing with ping(8) where the native module does not load', async () => {
    // The admin edits the shipped config and adds a hook.
    const config = {
      gateways: Object.fromEntries(net.uplinks.map((uplink) => [`isp${uplink.index}`, { ip: uplink.gatewayIp, priority: uplink.index }])),
      check_sites: net.sites,
      min_uptime: 0,
      probe: { timeout: 0.5 },
    };
    await writeFile(root.path('/etc/netgwm/netgwm.yml'), `# edited by the admin\n${stringify(config)}`);
    await writeFile(root.path('/etc/netgwm/post-replace.d/50-record'), RECORDING_HOOK);
    await chmod(root.path('/etc/netgwm/post-replace.d/50-record'), 0o755);

    const first = await inRouter(['netgwm', 'run']);
    expect(first).toMatchObject({ exitCode: 0, stdout: '' });
    expect(await net.defaultRoutes()).toEqual([{ gateway: '192.0.2.1', dev: 'wan_1' }]);
    const rootAbi = (await inRoot(['node', '-p', 'process.versions.modules'])).stdout;
    const fallback = /WARN native ICMP unavailable \(.*NODE_MODULE_VERSION.*\); probing with ping\(8\) instead/;
    if (rootAbi !== process.versions.modules) expect(first.stderr).toMatch(fallback);

    await net.failOperator(1);
    const second = await inRouter(['netgwm', 'run']);
    expect(second).toMatchObject({ exitCode: 0, stdout: '' });
    expect(second.stderr).not.toMatch(/native ICMP unavailable/); // warned once, not every cron minute
    expect(await net.defaultRoutes()).toEqual([{ gateway: '192.0.2.5', dev: 'wan-2' }]);
    await net.restoreOperator(1);
    expect(await inRouter(['netgwm', 'run'])).toMatchObject({ exitCode: 0, stdout: '', stderr: '' });
    expect(await net.defaultRoutes()).toEqual([{ gateway: '192.0.2.1', dev: 'wan_1' }]);

    const log = await rootFile('/var/log/netgwm.log');
    expect(log).toMatch(/INFO route replaced to: via 192\.0\.2\.5 dev wan-2 \(isp2, was isp1: isp1 down, 0\/2 sites answered\)/);
    expect(log.split('\n').filter((line) => fallback.test(line))).toHaveLength(rootAbi === process.versions.modules ? 0 : 1);
    expect(await rootFile('/var/tmp/hook-calls')).toBe('isp1 192.0.2.1 wan_1 NaN NaN NaN\nisp2 192.0.2.5 wan-2 isp1 192.0.2.1 wan_1\nisp1 192.0.2.1 wan_1 isp2 192.0.2.5 wan-2\n');
  });

  it('rotates the log with the shipped logrotate config', async () => {
    const debug = await inRoot(['logrotate', '-d', '/etc/logrotate.d/netgwm']);
    expect(debug.stderr + debug.stdout).toMatch(/considering log \/var\/log\/netgwm\.log/);
    await inRoot(['logrotate', '-f', '-s', '/var/tmp/logrotate.state', '/etc/logrotate.d/netgwm']);
    expect(await rootFile('/var/log/netgwm.log.1')).toMatch(/route replaced to/);
    await inRouter(['netgwm', 'run']);
    expect(await rootFile('/var/log/netgwm.log')).toBe(''); // a healthy cycle logs at debug only, to a fresh file
  });

  it('upgrades to this build keeping the edited config and the state', async () => {
    const edited = await rootFile('/etc/netgwm/netgwm.yml');
    const result = await inRoot(['apt-get', 'install', '-y', '-q', '--no-install-recommends', '/tmp/netgwm.deb']);
    expect(result.stdout).toMatch(/^0 upgraded, 0 newly installed|^1 upgraded/m);
    expect((await inRoot(['dpkg-query', '-W', '-f', '${Version}', 'netgwm'])).stdout).toBe(version);
    expect(await rootFile('/etc/netgwm/netgwm.yml')).toBe(edited);
    expect((await inRoot(['find', '/etc', '-name', '*.dpkg-*'])).stdout).toBe('');
    expect(await rootFile('/var/lib/netgwm/state.json')).toMatch(/"lastSwitch"/);
    expect(await inRouter(['netgwm', 'run'])).toMatchObject({ exitCode: 0, stdout: '', stderr: '' });
  });

  it('keeps config and state on remove, and leaves no file behind on purge', async () => {
    await inRoot(['apt-get', 'remove', '-y', '-q', 'netgwm']);
    expect(await rootFile('/etc/netgwm/netgwm.yml')).toMatch(/^# edited by the admin/);
    expect(await rootFile('/var/lib/netgwm/state.json')).toMatch(/"lastSwitch"/);
    await rm(root.path('/etc/netgwm/post-replace.d/50-record'));
    await rm(root.path('/var/tmp/hook-calls'));
    await rm(root.path('/var/tmp/logrotate.state'));
    await inRoot(['apt-get', 'purge', '-y', '-q', 'netgwm']);
    const after = await root.files();
    expect({ added: after.filter((file) => !filesBefore.includes(file)), removed: filesBefore.filter((file) => !after.includes(file)) }).toEqual({ added: [], removed: [] });
  });
});
