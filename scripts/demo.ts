// `npm run demo`: netgwm's daemon on a throw-away namespace network, narrated. It fails the
// primary uplink, shows the switch and the hook output, restores it, shows the hold-down and the
// failback, then removes everything it made. Needs root; touches nothing outside its namespaces.
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { stringify } from 'yaml';
import { launchChromium, openPage, saveScreenshot, waitForSwitchShown } from './testnet/browser.js';
import { TestNetwork } from './testnet/network.js';

const NETGWM = fileURLToPath(new URL('../bin/netgwm', import.meta.url));
const MIN_UPTIME_S = 6;
/** The status page, on the router's loopback: chromium runs in the router's namespace too. */
const WEB_LISTEN = '127.0.0.1:9560';
const DEMO_HOOK = `#!/bin/sh
# A post-replace.d hook gets: new name, ip, dev; old name, ip, dev ("NaN" when unknown).
if [ "$4" = NaN ] && [ "$5" = NaN ]; then
  echo "started on $1 ($2 dev $3)"
else
  echo "moved from $4 ($5 dev $6) to $1 ($2 dev $3)"
fi
`;

const say = (text: string) => console.log(`\n\x1b[1m== ${text}\x1b[0m`);
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the demo builds network namespaces: run it as root');
  const dir = await mkdtemp(join(tmpdir(), 'netgwm-demo-'));
  process.env.NETGWM_LOCK_DIR = join(dir, 'lock'); // netgwm's children lock there, not in the host's /run
  process.env.NETGWM_CACHE_DIR = join(dir, 'cache'); // and keep their code cache there, not in /var/cache
  say('Building a router with 3 uplinks (isp1 is the primary), 3 operators and 2 check sites');
  const net = await TestNetwork.create({ uplinks: 3, sites: 2 });
  const daemonLines: string[] = [];
  let daemon: ReturnType<typeof execa> | undefined;
  try {
    await mkdir(join(dir, 'post-replace.d'));
    await writeFile(join(dir, 'post-replace.d', '10-announce'), DEMO_HOOK, { mode: 0o755 });
    const config = {
      gateways: Object.fromEntries(net.uplinks.map((u) => [`isp${u.index}`, { ip: u.gatewayIp, priority: u.index }])),
      min_uptime: MIN_UPTIME_S,
      // Backups are probed every cycle too, so that they can prove stable before they are needed.
      check_all_gateways: true,
      check_sites: net.sites,
      state_dir: join(dir, 'state'),
      log_file: join(dir, 'netgwm.log'),
      status_dir: join(dir, 'status'),
      probe: { timeout: 0.5 },
      web_listen: WEB_LISTEN,
    };
    await writeFile(join(dir, 'netgwm.yml'), stringify(config));
    console.log(stringify(config).replace(/^/gm, '   '));

    say(`Starting: netgwm daemon --interval 1 (in namespace ${net.routerNs})`);
    daemon = execa(
      'ip',
      ['netns', 'exec', net.routerNs, process.execPath, NETGWM, 'daemon', '--interval', '1', '-c', join(dir, 'netgwm.yml')],
      { reject: false, buffer: false },
    );
    daemon.stdout!.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n').filter(Boolean)) {
        daemonLines.push(line);
        console.log(`   ${line}`);
      }
    });
    await waitForLine(daemonLines, /route replaced to: via 192\.0\.2\.1/, 10_000);
    await showRoute(net);

    say(`Waiting ${MIN_UPTIME_S} s: a backup must be up that long (min_uptime) to count as stable`);
    await sleep(MIN_UPTIME_S * 1000);

    say('isp1 stops forwarding traffic (its link stays up)');
    await net.failOperator(1);
    await waitForLine(daemonLines, /route replaced to: via 192\.0\.2\.5/, 10_000);
    await sleep(300);
    await showRoute(net);

    say(`The status page (web_listen: ${WEB_LISTEN}), in headless chromium inside the router's namespace`);
    console.log(`   saved ${await screenshotPage(net.routerNs)}`);

    say(`isp1 comes back: netgwm holds traffic on isp2 until isp1 has been up for ${MIN_UPTIME_S} s (min_uptime)`);
    await net.restoreOperator(1);
    await waitForLine(daemonLines, /gateway isp1 up/, 10_000);
    await sleep(2000);
    await showRoute(net);
    await waitForLine(daemonLines, /route replaced to: via 192\.0\.2\.1/, (MIN_UPTIME_S + 5) * 1000, 1);
    await sleep(300);
    await showRoute(net);
    say('netgwm status: what the last cycle saw, without probing or waiting for a cycle');
    const status = await execa('ip', ['netns', 'exec', net.routerNs, process.execPath, NETGWM, 'status', '-c', join(dir, 'netgwm.yml')], {
      env: { NO_COLOR: '1' },
    });
    console.log(status.stdout.replace(/^/gm, '   '));
    say('Done. The same lines are in the log file, for tail and grep.');
  } finally {
    daemon?.kill('SIGTERM');
    await daemon;
    await net.destroy();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Opens the status page, waits until it shows the switch to isp2 and saves a screenshot of it: its path. */
async function screenshotPage(routerNs: string): Promise<string> {
  const chromium = await launchChromium(routerNs);
  try {
    const { page } = await openPage(chromium.browser, `http://${WEB_LISTEN}/`);
    await waitForSwitchShown(page, 'isp2', 30_000);
    return await saveScreenshot(page, 'demo-status-page');
  } finally {
    await chromium.close();
  }
}

/** Waits until `pattern` has matched more than `seen` daemon lines. */
async function waitForLine(lines: string[], pattern: RegExp, ms: number, seen = 0): Promise<void> {
  const deadline = Date.now() + ms;
  while (lines.filter((line) => pattern.test(line)).length <= seen) {
    if (Date.now() > deadline) throw new Error(`the demo waited ${ms / 1000} s for a log line matching ${pattern}`);
    await sleep(100);
  }
}

async function showRoute(net: TestNetwork): Promise<void> {
  const { stdout } = await net.exec(net.routerNs, 'ip', ['route', 'show', 'default']);
  console.log(`   \x1b[2m$ ip route show default\x1b[0m\n   ${stdout.trim()}`);
}

main().catch((error: unknown) => {
  console.error(`demo failed: ${(error as Error).message}`);
  process.exitCode = 1;
});
