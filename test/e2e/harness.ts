// Runs the real, built netgwm inside the router namespace of a TestNetwork, with its own config,
// state, log and a recording hook in a temporary directory, on a wall clock the test moves on.
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { stringify } from 'yaml';
import { type Family, TestNetwork, type NetworkOptions } from '../../scripts/testnet/network.js';

export const NETGWM = fileURLToPath(new URL('../../bin/netgwm', import.meta.url));
/** The router's check_table (netgwm_check in its rt_tables): probe tables are 195, 196, … */
const CHECK_TABLE = 194;

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface HookCall {
  event: string;
  args: string[];
}

// Records every call as one line: the event, then the six arguments, tab-separated.
const RECORDING_HOOK = `#!/bin/sh
printf '%s' "$NETGWM_EVENT" >> "$0.calls"
for arg in "$@"; do printf '\\t%s' "$arg" >> "$0.calls"; done
echo >> "$0.calls"
echo "hook saw $NETGWM_EVENT to $1"
`;

/**
 * libfaketime (Debian's `faketime`) shifts the wall clock of netgwm and what it starts by the
 * test's offset; monotonic time stays real, so timeouts and durations are not affected.
 */
const MULTIARCH: Record<string, string> = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' };
const FAKETIME_LIBRARY = `/usr/lib/${MULTIARCH[process.arch] ?? process.arch}/faketime/libfaketime.so.1`;

/** The environment that runs a program `offsetS` seconds ahead, or stopped at local time `at`. */
export function fakeClockEnv(clock: { offsetS: number } | { at: string }): Record<string, string> {
  const faketime = 'at' in clock ? clock.at : `+${clock.offsetS}`;
  return { LD_PRELOAD: FAKETIME_LIBRARY, FAKETIME: faketime, FAKETIME_DONT_FAKE_MONOTONIC: '1' };
}

export class Harness {
  /** Seconds netgwm's wall clock runs ahead of the real one: moved on by advanceClock(). */
  private clockOffsetS = 0;

  private constructor(
    readonly net: TestNetwork,
    readonly dir: string,
  ) {}

  readonly configFile = () => join(this.dir, 'netgwm.yml');
  readonly stateDir = () => join(this.dir, 'state');
  readonly logFile = () => join(this.dir, 'netgwm.log');
  readonly hooksDir = () => join(this.dir, 'post-replace.d');
  /** NetGWM's per-gateway status files (the default, /run/netgwm, is the host's). */
  readonly statusDir = () => join(this.dir, 'status');
  /** The cycle lock's directory (the default, /run/netgwm/lock, is the host's): `$NETGWM_LOCK_DIR`. */
  readonly lockDir = () => join(this.dir, 'lock');

  static async create(options: NetworkOptions & { config?: Record<string, unknown> } = {}): Promise<Harness> {
    const dir = await mkdtemp(join(tmpdir(), 'netgwm-e2e-'));
    const net = await TestNetwork.create(options);
    const harness = new Harness(net, dir);
    await mkdir(harness.hooksDir());
    await writeFile(join(harness.hooksDir(), '50-record'), RECORDING_HOOK, { mode: 0o755 });
    await harness.writeConfig(options.config ?? {});
    return harness;
  }

  /** The default config for this network (isp1…ispN by uplink, best first), plus `extra`. */
  baseConfig(): Record<string, unknown> {
    return {
      gateways: Object.fromEntries(
        this.net.uplinks.map((uplink) => [`isp${uplink.index}`, { ip: uplink.gatewayIp, priority: uplink.index }]),
      ),
      min_uptime: 60,
      check_sites: this.net.sites,
      state_dir: this.stateDir(),
      log_file: this.logFile(),
      status_dir: this.statusDir(),
      log_level: 'debug',
      probe: { timeout: 0.5 },
    };
  }

  async writeConfig(extra: Record<string, unknown>): Promise<void> {
    await writeFile(this.configFile(), stringify({ ...this.baseConfig(), ...extra }));
  }

  /**
   * Moves netgwm's wall clock on by `seconds` for every later run: the way to let `min_uptime`
   * pass without racing the program with sleeps. Never back (that is a test of its own).
   */
  advanceClock(seconds: number): void {
    this.clockOffsetS += seconds;
  }

  /** The environment that puts netgwm on the test's clock and lock directory, plus `env`. */
  private clockEnv(env: Record<string, string> = {}): Record<string, string> {
    const lock = { NETGWM_LOCK_DIR: this.lockDir() };
    return this.clockOffsetS === 0 ? { ...lock, ...env } : { ...lock, ...fakeClockEnv({ offsetS: this.clockOffsetS }), ...env };
  }

  /** `netgwm ARGS -c CONFIG` in the router namespace. */
  async netgwm(args: string[], options: { timeoutMs?: number; env?: Record<string, string> } = {}): Promise<RunResult> {
    const result = await execa('ip', ['netns', 'exec', this.net.routerNs, process.execPath, NETGWM, ...args, '-c', this.configFile()], {
      reject: false,
      timeout: options.timeoutMs ?? 30_000,
      stdin: 'ignore',
      env: this.clockEnv(options.env),
    });
    return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
  }

  /** One cron-style cycle that must succeed silently. */
  async run(): Promise<RunResult> {
    return this.netgwm(['run']);
  }

  /** Starts `netgwm daemon` in the router namespace; stop it with `.kill()`. */
  daemon(args: string[] = [], env: Record<string, string> = {}): ResultPromise {
    return this.start(['daemon', ...args], env);
  }

  /**
   * Starts `netgwm ARGS -c CONFIG` in the router namespace without waiting for it. `ip netns
   * exec` execs netgwm, so the process's PID is netgwm's own: `.kill()` signals netgwm.
   */
  start(args: string[], env: Record<string, string> = {}): ResultPromise {
    return execa('ip', ['netns', 'exec', this.net.routerNs, process.execPath, NETGWM, ...args, '-c', this.configFile()], {
      reject: false,
      stdin: 'ignore',
      env: this.clockEnv(env),
    });
  }

  /**
   * Name of the configured gateway the router's default route (of `family`) uses now; an IPv6
   * route via an operator's global or link-local address on its uplink is that uplink's.
   */
  async currentGateway(family: Family = 4): Promise<string | undefined> {
    const route = (await this.net.defaultRoutes(family))[0];
    const uplink = this.net.uplinks.find((candidate) =>
      family === 6
        ? candidate.routerDev === route?.dev &&
          (!route?.gateway || route.gateway === candidate.gatewayIp6 || route.gateway === candidate.gatewayLinkLocal)
        : candidate.gatewayIp === route?.gateway || (!route?.gateway && candidate.routerDev === route?.dev),
    );
    return uplink && `isp${uplink.index}`;
  }

  async hookCalls(): Promise<HookCall[]> {
    const text = await readFile(join(this.hooksDir(), '50-record.calls'), 'utf8').catch(() => '');
    return text
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [event, ...args] = line.split('\t');
        return { event: event!, args };
      });
  }

  async logLines(): Promise<string[]> {
    return (await readFile(this.logFile(), 'utf8').catch(() => '')).split('\n').filter(Boolean);
  }

  /**
   * netgwm's probe rules and the routes in its tables — the old check table (194, netgwm_check)
   * and the probe tables 195… — as `ip` prints them, sorted.
   */
  async probePaths(family: Family = 4): Promise<string[]> {
    const tables = Array.from({ length: this.net.uplinks.length + 1 }, (_, slot) => CHECK_TABLE + slot);
    const ours = new RegExp(`0x4e47|netgwm_check|(lookup|table) (${tables.join('|')})\\b`);
    const rules = await this.net.exec(this.net.routerNs, 'ip', [`-${family}`, 'rule', 'list']);
    const routes = await this.net.exec(this.net.routerNs, 'ip', [`-${family}`, 'route', 'show', 'table', 'all']);
    return [...rules.stdout.split('\n'), ...routes.stdout.split('\n')]
      .filter((line) => ours.test(line))
      .map((line) => line.trim())
      .sort();
  }

  /**
   * What probePaths() shows with every gateway's path in place: isp i probes with mark
   * 0x4e470000 + i through table 194 + i. For IPv6, isp i's `ip6` is the operator's global
   * address (the kernel gives the route metric 1024, and the guard is at 4294967294).
   */
  expectedProbePaths(family: Family = 4): string[] {
    return this.net.uplinks
      .flatMap((uplink) => {
        const table = CHECK_TABLE + uplink.index;
        const rule = `1000:\tfrom all fwmark 0x${(0x4e470000 + uplink.index).toString(16)} lookup ${table}`;
        if (family === 6)
          return [
            rule,
            `default via ${uplink.gatewayIp6} dev ${uplink.routerDev} table ${table} metric 1024 pref medium`,
            `unreachable default dev lo table ${table} metric 4294967294 pref medium`,
          ];
        return [
          rule,
          `default via ${uplink.gatewayIp} dev ${uplink.routerDev} table ${table}`,
          `unreachable default table ${table} metric 4294967295`,
        ];
      })
      .sort();
  }

  /** True once every gateway's probe path (of `family`) is in place, exactly. */
  async probePathsInPlace(family: Family = 4): Promise<boolean> {
    return JSON.stringify(await this.probePaths(family)) === JSON.stringify(this.expectedProbePaths(family));
  }

  async destroy(): Promise<void> {
    await this.net.destroy();
    await rm(this.dir, { recursive: true, force: true });
  }
}

export const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/**
 * Polls `check` every 50 ms until it is true or `ms` passed; returns whether it became true.
 * `ms` is a hang guard, far above what any check needs, so that a loaded machine never fails it.
 */
export async function waitFor(check: () => Promise<boolean> | boolean, ms = 20_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await sleep(50);
  }
  return check();
}
