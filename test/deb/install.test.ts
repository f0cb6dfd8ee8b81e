// The proof of the Debian package: build it for Debian 12 (lintian must find no error), put its
// dependencies into a clean Debian 12 root, boot that root with systemd inside the router's network
// namespace, and use the package there as an admin would: install it with apt, run it from cron's
// point of view with native ICMP on Debian's own nodejs, rotate its log, upgrade it keeping an
// edited config, run the service through a real failover, reload it with a broken and a good
// config, let hooks do what hooks do, stop it, remove it and purge it. Slow (about 3 min with the
// cached roots on a busy 2-core machine, 6.5 min without them); part of `npm test`.
// NETGWM_DEB_SUITE=trixie proves the same for Debian 13.
import { chmod, copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { waitFor } from '../e2e/harness.js';
import { DebianRoot, type BootedRoot } from '../support/debian-root.js';
import { TestNetwork } from '../../scripts/testnet/network.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
/** The Debian release the package is built for and tested in, and its nodejs. */
const SUITE = process.env.NETGWM_DEB_SUITE || 'bookworm';
const NODEJS: Record<string, { major: number; abi: number }> = { bookworm: { major: 18, abi: 108 }, trixie: { major: 20, abi: 115 } };
/**
 * Hang guard for the set-up: on a fresh machine it debootstraps two roots and installs nodejs and
 * node-gyp in one (about 5 minutes), then builds the package (about 2).
 */
const LONG = 1_800_000;
/** Hang guard for one thing the service does (a cycle takes about a second). */
const GUARD_MS = 60_000;
/** Hang guard for a test of a few such steps, or an apt-get run. */
const SERVICE_TEST_MS = 4 * GUARD_MS;

// A hook as an admin would add one: it records its arguments.
/** The service's status page, on the router's loopback. */
const WEB_LISTEN = '127.0.0.1:9560';
const RECORDING_HOOK = '#!/bin/sh\necho "$*" >> /var/tmp/hook-calls\n';
// A hook doing what hooks from cron do: write to root's home, /usr/local and the /tmp other
// services see, restart a unit, and (a sign that setgid programs such as postdrop still work)
// report whether it runs with no_new_privs.
const ADMIN_HOOK = `#!/bin/sh
env | sort > "$HOME/netgwm-hook.env"
echo "$NETGWM_NEW_NAME" >> /usr/local/share/netgwm-hook-ran
echo "$NETGWM_NEW_NAME" >> /tmp/netgwm-hook-ran
grep '^NoNewPrivs:' /proc/self/status > /var/tmp/netgwm-hook-nnp
systemctl restart hook-target.service
echo "restart exited $?" >> /var/tmp/netgwm-hook-restart
`;
// The unit the hook restarts, standing in for an admin's VPN tunnel.
const HOOK_TARGET_UNIT = `[Unit]
Description=a unit the test's hook restarts

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'echo started >> /var/tmp/hook-target-starts'
`;

/** `debian/build-deb.sh`, lintian included; returns the .deb's path and lintian's output. */
async function buildDeb(out: string): Promise<{ deb: string; output: string }> {
  const result = await execa(join(REPO, 'debian/build-deb.sh'), [], {
    env: { NETGWM_DEB_OUT: out, NETGWM_DEB_SUITE: SUITE },
    all: true,
    reject: false,
    timeout: LONG,
  });
  if (result.exitCode !== 0) throw new Error(`debian/build-deb.sh failed (${result.exitCode}):\n${String(result.all).slice(-4000)}`);
  return { deb: String(result.stdout).trim().split('\n').at(-1)!, output: String(result.all) };
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

/** The packages a Depends field names: the first of alternatives, without versions. */
function packageNames(field: string): string[] {
  return field
    .split(',')
    .map((entry) =>
      entry
        .split('|')[0]!
        .replace(/\(.*\)/, '')
        .trim(),
    )
    .filter(Boolean);
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

describe(`the Debian package in a booted Debian root (${SUITE})`, () => {
  let work: string;
  let deb: string;
  let root: DebianRoot;
  let machine: BootedRoot;
  let net: TestNetwork;
  let filesBefore: string[];
  let version: string;
  const figures: string[] = [];
  const inRoot = (argv: string[], options: { reject?: boolean } = {}) => machine.run(argv, options);
  const rootFile = (path: string) => readFile(root.path(path), 'utf8');
  const journal = async (...args: string[]) => (await inRoot(['journalctl', '-u', 'netgwm', '-o', 'cat', '--no-pager', ...args])).stdout;
  /** Waits until the service's journal has a line matching `pattern` (bounded by GUARD_MS). */
  async function journalShows(pattern: RegExp): Promise<void> {
    if (!(await waitFor(async () => pattern.test(await journal()), GUARD_MS))) {
      throw new Error(
        `the journal of netgwm.service has no line matching ${pattern} after ${GUARD_MS / 1000} s:\n${(await journal()).slice(-3000)}`,
      );
    }
  }
  const mainPid = async () => (await inRoot(['systemctl', 'show', '-P', 'MainPID', 'netgwm'])).stdout;
  const writeConfig = (config: object) => writeFile(root.path('/etc/netgwm/netgwm.yml'), `# edited by the admin\n${stringify(config)}`);
  const gatewaysConfig = (priorities: number[], method: 'auto' | 'icmp') => ({
    gateways: Object.fromEntries(net.uplinks.map((uplink, i) => [`isp${uplink.index}`, { ip: uplink.gatewayIp, priority: priorities[i] }])),
    check_sites: net.sites,
    min_uptime: 0,
    probe: { timeout: 0.5, method },
  });

  beforeAll(async () => {
    const missing = await missingCommands(['dpkg-buildpackage', 'dh', 'lintian', 'debootstrap', 'systemd-nspawn', 'nsenter']);
    if (missing.length > 0)
      throw new Error(
        `the package test needs ${missing.join(', ')}: apt-get install dpkg-dev debhelper lintian debootstrap systemd-container util-linux`,
      );
    work = await mkdtemp(join(tmpdir(), 'netgwm-deb-test-'));
    const started = performance.now();
    const build = await buildDeb(join(work, 'out'));
    deb = build.deb;
    const tags = build.output.split('\n').filter((line) => /^[EWIPNOX]: netgwm/.test(line));
    const notInfo = tags.filter((line) => !line.startsWith('I: '));
    figures.push(
      `lintian: ${notInfo.length} errors and warnings, ${tags.length - notInfo.length} info tags${notInfo.map((line) => `\n    ${line}`).join('')}`,
    );
    expect(tags.filter((line) => line.startsWith('E: '))).toEqual([]);
    const built = performance.now();
    // The package's dependencies are in the root from the start (a root with them is cached),
    // so that the files they bring are there before and after, and the booted root, which has
    // only the test's network, needs no mirror. man-db too, as on most systems, so that
    // systemd-analyze can check the unit's Documentation=.
    const fields = await execa('dpkg-deb', ['-f', deb, 'Depends', 'Recommends', 'Version']);
    const field = (name: string) => new RegExp(`^${name}: (.*)$`, 'm').exec(fields.stdout)![1]!;
    version = field('Version');
    root = await DebianRoot.create(SUITE, [...packageNames(`${field('Depends')}, ${field('Recommends')}`), 'man-db']);
    // man-db's trigger rebuilds its index at every install, for seconds on a loaded machine; man
    // works without it, as in most containers.
    await rm(root.path('/var/lib/man-db/auto-update'), { force: true });
    await copyFile(deb, root.path('/var/tmp/netgwm.deb'));
    await copyFile(await previousRelease(deb, work), root.path('/var/tmp/netgwm-previous.deb'));
    await writeFile(root.path('/etc/systemd/system/hook-target.service'), HOOK_TARGET_UNIT);
    const ready = performance.now();
    net = await TestNetwork.create({ uplinks: 2, sites: 2 });
    machine = await root.boot(net.routerNs);
    filesBefore = await root.files();
    figures.push(`build ${seconds(built - started)}, root ready ${seconds(ready - built)}, booted ${seconds(performance.now() - ready)}`);
  }, LONG);

  afterAll(async () => {
    try {
      const started = performance.now();
      await machine?.shutdown(); // throws if a process of the container is left
      if (machine) figures.push(`container shut down in ${seconds(performance.now() - started)}, no process left`);
    } finally {
      await net?.destroy();
      await root?.destroy();
      if (work) await rm(work, { recursive: true, force: true });
      process.stdout.write(`deb test figures:\n  ${figures.join('\n  ')}\n`);
    }
  }, LONG);

  it('boots as a real system: a 0755 root, no policy-rc.d, systemd as PID 1', async () => {
    expect((await execa('stat', ['-c', '%a', root.dir])).stdout).toBe('755');
    expect((await inRoot(['test', '-e', '/usr/sbin/policy-rc.d'], { reject: false })).exitCode).toBe(1);
    expect((await inRoot(['cat', '/proc/1/comm'])).stdout).toBe('systemd');
  });

  it(
    'installs with apt, bringing nothing that the dependencies did not',
    async () => {
      const result = await inRoot(['apt-get', 'install', '-y', '-q', '--no-install-recommends', '/var/tmp/netgwm-previous.deb']);
      expect(result.stdout).toMatch(/^0 upgraded, 1 newly installed, 0 to remove/m);
      expect((await inRoot(['dpkg-query', '-W', '-f', '${Version}', 'netgwm'])).stdout).toBe(`${version}~previous`);
    },
    SERVICE_TEST_MS,
  );

  it("runs on Debian's own nodejs: --version, --help, the manual page", async () => {
    expect((await inRoot(['node', '--version'])).stdout).toMatch(new RegExp(`^v${NODEJS[SUITE]!.major}\\.`));
    const pkg = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as { version: string };
    expect((await inRoot(['netgwm', '--version'])).stdout).toBe(pkg.version);
    expect((await inRoot(['netgwm', '--help'])).stdout).toMatch(/^Usage: netgwm \[COMMAND\]/);
    expect((await inRoot(['man', '-P', 'cat', 'netgwm'])).stdout).toMatch(
      /^NAME\s+netgwm - keep a Linux router's default route on the best working uplink$/m,
    );
  });

  it('ships a config that validates, with its check table declared in rt_tables.d', async () => {
    const result = await inRoot(['netgwm', 'check-config']);
    expect(result.stdout).toMatch(/^check_table: netgwm_check \(table 194\)$/m);
    expect(await rootFile('/etc/iproute2/rt_tables.d/netgwm.conf')).toMatch(/^194\tnetgwm_check$/m);
    expect(await rootFile('/etc/iproute2/rt_protos.d/netgwm.conf')).toMatch(/^194\tnetgwm$/m);
    const conffiles = (await inRoot(['dpkg-query', '-W', '-f', '${Conffiles}', 'netgwm'])).stdout;
    for (const file of [
      '/etc/netgwm/netgwm.yml',
      '/etc/default/netgwm',
      '/etc/cron.d/netgwm',
      '/etc/logrotate.d/netgwm',
      '/etc/iproute2/rt_tables.d/netgwm.conf',
      '/etc/iproute2/rt_protos.d/netgwm.conf',
    ]) {
      expect(conffiles).toContain(` ${file} `);
    }
  });

  it('leaves the service disabled and stopped, and the cron line commented out', async () => {
    expect((await inRoot(['systemctl', 'is-enabled', 'netgwm.service'], { reject: false })).stdout).toBe('disabled');
    expect((await inRoot(['systemctl', 'is-active', 'netgwm.service'], { reject: false })).stdout).toBe('inactive');
    expect(await rootFile('/etc/cron.d/netgwm')).toMatch(/^#\* \* \* \* \*\troot\t\[ -x \/usr\/bin\/netgwm \] && netgwm run$/m);
    expect(await rootFile('/etc/default/netgwm')).toMatch(/^INTERVAL=60$/m);
  });

  it('has a unit that systemd-analyze verify accepts', async () => {
    const result = await inRoot(['systemd-analyze', 'verify', '/lib/systemd/system/netgwm.service'], { reject: false });
    expect(result.stderr.split('\n').filter((line) => line.includes('netgwm'))).toEqual([]);
    expect(result.exitCode).toBe(0);
  });

  it("carries a native module built for the release's own nodejs, which loads there", async () => {
    expect((await inRoot(['node', '-p', 'process.versions.modules'])).stdout).toBe(String(NODEJS[SUITE]!.abi));
    const load = await inRoot(['node', '-e', 'require("/usr/lib/netgwm/node_modules/raw-socket")'], { reject: false });
    expect(load).toMatchObject({ exitCode: 0, stderr: '' });
  });

  it(
    'runs real cycles in the router namespace as cron would, probing with native ICMP',
    async () => {
      // The admin edits the shipped config and adds a hook.
      await writeConfig(gatewaysConfig([1, 2], 'auto'));
      await writeFile(root.path('/etc/netgwm/post-replace.d/50-record'), RECORDING_HOOK);
      await chmod(root.path('/etc/netgwm/post-replace.d/50-record'), 0o755);

      const first = await inRoot(['netgwm', 'run'], { reject: false });
      expect(first).toMatchObject({ exitCode: 0, stdout: '', stderr: '' }); // no "native ICMP unavailable"
      expect(await net.defaultRoutes()).toEqual([{ gateway: '192.0.2.1', dev: 'wan_1' }]);
      expect((await inRoot(['test', '-e', '/var/lib/netgwm/probe-fallback'], { reject: false })).exitCode).toBe(1);

      await net.failOperator(1);
      // probe.method icmp refuses to start without the native module: this cycle probes natively.
      await writeConfig(gatewaysConfig([1, 2], 'icmp'));
      const failover = await inRoot(['netgwm', 'run'], { reject: false });
      expect(failover).toMatchObject({ exitCode: 0, stdout: '' });
      expect(failover.stderr).toMatch(/gateway isp1 down: 0\/2 sites answered/); // what cron would mail
      expect(await net.defaultRoutes()).toEqual([{ gateway: '192.0.2.5', dev: 'wan-2' }]);
      await net.restoreOperator(1);
      expect(await inRoot(['netgwm', 'run'], { reject: false })).toMatchObject({ exitCode: 0, stdout: '', stderr: '' });
      expect(await net.defaultRoutes()).toEqual([{ gateway: '192.0.2.1', dev: 'wan_1' }]);

      const log = await rootFile('/var/log/netgwm.log');
      expect(log).toMatch(/route replaced to: via 192\.0\.2\.5 dev wan-2 \(isp2, was isp1: isp1 down, 0\/2 sites answered\)/);
      expect(log).not.toMatch(/native ICMP unavailable/);
      expect(await rootFile('/var/tmp/hook-calls')).toBe(
        'isp1 192.0.2.1 wan_1 NaN NaN NaN\nisp2 192.0.2.5 wan-2 isp1 192.0.2.1 wan_1\nisp1 192.0.2.1 wan_1 isp2 192.0.2.5 wan-2\n',
      );
    },
    SERVICE_TEST_MS,
  );

  it('rotates the log with the shipped logrotate config', async () => {
    const debug = await inRoot(['logrotate', '-d', '/etc/logrotate.d/netgwm']);
    expect(debug.stderr + debug.stdout).toMatch(/considering log \/var\/log\/netgwm\.log/);
    // netgwm-notify's --log in the shipped keepalived.conf.
    await inRoot(['sh', '-c', 'echo "netgwm-notify: a message" >> /var/log/netgwm-notify.log']);
    await inRoot(['logrotate', '-f', '-s', '/var/tmp/logrotate.state', '/etc/logrotate.d/netgwm']);
    expect(await rootFile('/var/log/netgwm.log.1')).toMatch(/route replaced to/);
    expect(await rootFile('/var/log/netgwm-notify.log.1')).toMatch(/a message/);
    await inRoot(['netgwm', 'run']);
    expect(await rootFile('/var/log/netgwm.log')).toBe(''); // a healthy cycle logs at debug only, to a fresh file
  });

  it(
    'upgrades to this build keeping the edited config and the state',
    async () => {
      const edited = await rootFile('/etc/netgwm/netgwm.yml');
      const result = await inRoot(['apt-get', 'install', '-y', '-q', '--no-install-recommends', '/var/tmp/netgwm.deb']);
      expect(result.stdout).toMatch(/^0 upgraded, 0 newly installed|^1 upgraded/m);
      expect((await inRoot(['dpkg-query', '-W', '-f', '${Version}', 'netgwm'])).stdout).toBe(version);
      expect(await rootFile('/etc/netgwm/netgwm.yml')).toBe(edited);
      expect((await inRoot(['find', '/etc', '-name', '*.dpkg-*'])).stdout).toBe('');
      expect(await rootFile('/var/lib/netgwm/state.json')).toMatch(/"lastSwitch"/);
      expect(await inRoot(['netgwm', 'run'], { reject: false })).toMatchObject({ exitCode: 0, stdout: '', stderr: '' });
    },
    SERVICE_TEST_MS,
  );

  it(
    'runs as a service: enable --now, a failover in the journal with its priorities',
    async () => {
      await writeConfig({ ...gatewaysConfig([1, 2], 'icmp'), web_listen: WEB_LISTEN });
      await writeFile(root.path('/etc/default/netgwm'), (await rootFile('/etc/default/netgwm')).replace(/^INTERVAL=60$/m, 'INTERVAL=1'));
      await writeFile(root.path('/etc/netgwm/post-replace.d/60-admin'), ADMIN_HOOK);
      await chmod(root.path('/etc/netgwm/post-replace.d/60-admin'), 0o755);
      await inRoot(['systemctl', 'enable', '--now', 'netgwm']);
      expect((await inRoot(['systemctl', 'is-enabled', 'netgwm'])).stdout).toBe('enabled');
      expect((await inRoot(['systemctl', 'is-active', 'netgwm'], { reject: false })).stdout).toBe('active');
      await journalShows(
        /netgwm [\d.]+ daemon started: watching every uplink continuously, housekeeping every 1 s, config \/etc\/netgwm\/netgwm\.yml/,
      );

      await net.failOperator(1);
      await journalShows(/route replaced to: via 192\.0\.2\.5 dev wan-2 \(isp2, was isp1: isp1 down/);
      expect(await net.defaultRoutes()).toEqual([{ gateway: '192.0.2.5', dev: 'wan-2' }]);
      // The priority travels with the line (<4> for a warning), whatever the line's own words.
      expect(await journal('-p', 'warning..warning')).toMatch(/gateway isp1 down: 0\/2 sites answered/);
      expect(await journal('-p', 'warning')).not.toMatch(/route replaced to/);
      expect(await journal('-p', 'info..info')).toMatch(/route replaced to: via 192\.0\.2\.5/);
    },
    SERVICE_TEST_MS,
  );

  it("serves the status page from the package's files (web_listen)", async () => {
    const paths = ['/', '/app.js', '/app.css', '/api/status'];
    // Node's own fetch, in the root (its nodejs), against the service's web server.
    const script = `Promise.all(${JSON.stringify(paths)}.map(async (path) => {
      const response = await fetch('http://${WEB_LISTEN}' + path);
      return [path, response.status, response.headers.get('content-type'), (await response.arrayBuffer()).byteLength];
    })).then((replies) => console.log(JSON.stringify(replies)), () => console.log('[]'))`;
    let replies: Array<[string, number, string, number]> = [];
    const served = async () => {
      replies = JSON.parse((await inRoot(['node', '-e', script], { reject: false })).stdout || '[]');
      return replies.length === paths.length;
    };
    expect(await waitFor(served, GUARD_MS)).toBe(true);
    const size = async (name: string) => (await readFile(root.path(`/usr/lib/netgwm/dist/page/${name}`))).length;
    expect(replies.slice(0, 3)).toEqual([
      ['/', 200, 'text/html; charset=utf-8', await size('index.html')],
      ['/app.js', 200, 'text/javascript; charset=utf-8', await size('app.js')],
      ['/app.css', 200, 'text/css; charset=utf-8', await size('app.css')],
    ]);
    expect(replies[3]!.slice(0, 3)).toEqual(['/api/status', 200, 'application/json; charset=utf-8']);
  });

  it(
    'runs hooks under the service as cron would: environment, /root, /usr/local, /tmp, systemctl',
    async () => {
      const restarts = async () => (await rootFile('/var/tmp/netgwm-hook-restart').catch(() => '')).split('\n').filter(Boolean);
      if (!(await waitFor(async () => (await restarts()).length >= 1, GUARD_MS)))
        throw new Error('the admin hook did not run under the service');
      expect(await restarts()).toEqual(['restart exited 0']);
      expect(await rootFile('/var/tmp/hook-target-starts')).toBe('started\n');
      const env = Object.fromEntries(
        (await rootFile('/root/netgwm-hook.env'))
          .trim()
          .split('\n')
          .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
      );
      expect(env).toMatchObject({
        HOME: '/root',
        LOGNAME: 'root',
        USER: 'root',
        SHELL: '/bin/sh',
        NETGWM_EVENT: 'switch',
        NETGWM_NEW_NAME: 'isp2',
        NETGWM_OLD_NAME: 'isp1',
      });
      expect(env.PATH).toBe('/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
      expect(env.LANG).toBeTruthy();
      expect(await rootFile('/usr/local/share/netgwm-hook-ran')).toBe('isp2\n');
      // The /tmp every other service and login sees, not a private one.
      expect((await inRoot(['cat', '/tmp/netgwm-hook-ran'])).stdout).toBe('isp2');
      expect(await rootFile('/var/tmp/netgwm-hook-nnp')).toMatch(/^NoNewPrivs:\s+0$/m);
      expect(await journal()).toMatch(/hook \/etc\/netgwm\/post-replace\.d\/60-admin exited 0/);
    },
    SERVICE_TEST_MS,
  );

  it(
    'fails a reload with a broken config and keeps the old one; a good one reloads',
    async () => {
      await net.restoreOperator(1);
      await journalShows(/route replaced to: via 192\.0\.2\.1 dev wan_1 \(isp1, was isp2/);
      const pid = await mainPid();
      const config = await rootFile('/etc/netgwm/netgwm.yml');

      await writeFile(root.path('/etc/netgwm/netgwm.yml'), config.replace(/priority: 2/, 'priority: high'));
      const broken = await inRoot(['systemctl', 'reload', 'netgwm'], { reject: false });
      expect(broken.exitCode).not.toBe(0);
      expect(broken.stderr).toMatch(/netgwm\.service/);
      expect((await inRoot(['systemctl', 'is-active', 'netgwm'], { reject: false })).stdout).toBe('active');
      expect(await mainPid()).toBe(pid);
      expect(await journal()).toMatch(/gateways\.isp2\.priority: expected a number/);
      expect(await journal()).not.toMatch(/config reloaded/);

      // Still the old config: isp1 is preferred. The good one prefers isp2, and the daemon follows.
      await writeConfig(gatewaysConfig([2, 1], 'icmp'));
      expect((await inRoot(['systemctl', 'reload', 'netgwm'], { reject: false })).exitCode).toBe(0);
      await journalShows(/config reloaded from \/etc\/netgwm\/netgwm\.yml/);
      await journalShows(/route replaced to: via 192\.0\.2\.5 dev wan-2 \(isp2, was isp1: isp2 is back and stable/);
      expect(await mainPid()).toBe(pid);
      expect(await net.defaultRoutes()).toEqual([{ gateway: '192.0.2.5', dev: 'wan-2' }]);
    },
    SERVICE_TEST_MS,
  );

  it(
    'stops on systemctl stop without needing SIGKILL',
    async () => {
      const started = performance.now();
      await machine.run(['systemctl', 'stop', 'netgwm'], { timeoutMs: GUARD_MS });
      const took = performance.now() - started;
      // systemd's own view: from its "Stopping" line to its "Stopped" line.
      const entries = (await inRoot(['journalctl', '-u', 'netgwm', '-o', 'json', '--no-pager'])).stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { MESSAGE?: unknown; __REALTIME_TIMESTAMP: string });
      const lastAt = (prefix: string) =>
        Number(
          entries.filter((entry) => typeof entry.MESSAGE === 'string' && entry.MESSAGE.startsWith(prefix)).at(-1)?.__REALTIME_TIMESTAMP,
        );
      figures.push(
        `systemctl stop netgwm: ${seconds(took)} with nsenter, ${((lastAt('Stopped ') - lastAt('Stopping ')) / 1000).toFixed(0)} ms in the journal`,
      );
      const shown = (
        await inRoot(['systemctl', 'show', '-p', 'Result', '-p', 'ExecMainCode', '-p', 'ExecMainStatus', '-p', 'ActiveState', 'netgwm'])
      ).stdout;
      // Exited by itself (CLD_EXITED = 1) with status 0, not killed, not timed out.
      expect(shown.split('\n').sort()).toEqual(['ActiveState=inactive', 'ExecMainCode=1', 'ExecMainStatus=0', 'Result=success']);
      expect(await journal()).not.toMatch(/SIGKILL|timed out|Killing process/);
      expect(await journal()).toMatch(/daemon stopping on SIGTERM/);
    },
    SERVICE_TEST_MS,
  );

  it(
    'is stopped by apt-get remove, which keeps config and state and removes the probe paths (not the default route)',
    async () => {
      await inRoot(['systemctl', 'start', 'netgwm']);
      expect((await inRoot(['systemctl', 'is-active', 'netgwm'], { reject: false })).stdout).toBe('active');
      expect((await inRoot(['ip', 'rule'])).stdout).toMatch(/fwmark 0x4e470001 lookup 195/);
      const defaultRoute = (await inRoot(['ip', 'route', 'show', 'default'])).stdout;
      await inRoot(['apt-get', 'remove', '-y', '-q', 'netgwm']);
      expect((await inRoot(['systemctl', 'is-active', 'netgwm'], { reject: false })).stdout).toBe('inactive');
      expect((await inRoot(['ip', 'rule'])).stdout).not.toMatch(/0x4e47/);
      expect((await inRoot(['ip', 'route', 'show', 'table', 'all'])).stdout).not.toMatch(/table (netgwm_check|19[4-9])\b/);
      expect((await inRoot(['ip', 'route', 'show', 'default'])).stdout).toBe(defaultRoute);
      expect((await inRoot(['pgrep', '-f', 'netgwm daemon'], { reject: false })).stdout).toBe('');
      expect(await rootFile('/etc/netgwm/netgwm.yml')).toMatch(/^# edited by the admin/);
      expect(await rootFile('/var/lib/netgwm/state.json')).toMatch(/"lastSwitch"/);
    },
    SERVICE_TEST_MS,
  );

  it(
    'leaves no file behind on purge',
    async () => {
      for (const file of [
        '/etc/netgwm/post-replace.d/50-record',
        '/etc/netgwm/post-replace.d/60-admin',
        '/var/tmp/hook-calls',
        '/var/tmp/logrotate.state',
        '/root/netgwm-hook.env',
        '/usr/local/share/netgwm-hook-ran',
        '/var/tmp/netgwm-hook-nnp',
        '/var/tmp/netgwm-hook-restart',
        '/var/tmp/hook-target-starts',
      ]) {
        await rm(root.path(file));
      }
      await inRoot(['apt-get', 'purge', '-y', '-q', 'netgwm']);
      const after = await root.files();
      expect({
        added: after.filter((file) => !filesBefore.includes(file)),
        removed: filesBefore.filter((file) => !after.includes(file)),
      }).toEqual({ added: [], removed: [] });
    },
    SERVICE_TEST_MS,
  );
});
