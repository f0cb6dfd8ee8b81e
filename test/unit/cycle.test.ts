import { chmod, mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileConfig } from '../../src/config/load.js';
import type { Gateway, GatewayInfo, State } from '../../src/core/types.js';
import { runCycle } from '../../src/cycle.js';
import { createLogger } from '../../src/log/logger.js';
import type { Ping } from '../../src/probe/probe.js';
import type { SiteProber } from '../../src/probe/site-rounds.js';
import { saveState, STATE_FILE } from '../../src/state/store.js';
import { tempDir } from '../support/temp-dir.js';
import type { Exec } from '../../src/system/exec.js';
import { syncProbePaths } from '../../src/system/probe-paths.js';
import { fakeExec } from './system/fake-exec.js';
import { BOOT_RULES, fakeKernel, MAIN_TABLE, type FakeKernel } from './system/fake-kernel.js';

// isp2's config names no dev: the hooks must get the one the kernel routes through.
const ISP1 = { name: 'isp1', ip: '192.0.2.1', dev: 'wan1' };
const ISP2 = { name: 'isp2', ip: '198.51.100.1', dev: 'wan2' };
const CHECK_TABLE = 194;
/** isp1's next hop after its DHCP lease changed. */
const MOVED = { name: 'isp1', ip: '192.0.2.3', dev: 'wan1' };
const START = Date.UTC(2026, 0, 1, 12);

type Named = typeof ISP1;
interface LogRecord {
  event: string;
  msg: string;
  [field: string]: unknown;
}

/** A router: its kernel, its network, its files, and a cycle to run on them. */
async function router(setup: {
  route?: Named;
  alive: Named[];
  minUptime?: number;
  hooks?: string[];
  gateways?: [Named, Named];
  /** The first gateway is `ip: auto`: its address comes from the kernel. */
  auto?: true;
  /** Check sites with a method, after the pinged one, probed by this stand-in. */
  methods?: { sites: Array<Record<string, unknown>>; probe: SiteProber };
}) {
  const dir = await tempDir('cycle');
  const [first, second] = setup.gateways ?? [ISP1, ISP2];
  const config = await compileConfig(
    {
      gateways: {
        [first.name]: { ip: setup.auto ? 'auto' : first.ip, dev: first.dev, priority: 1 },
        [second.name]: { ip: second.ip, priority: 2 },
      },
      check_sites: ['203.0.113.10', ...(setup.methods?.sites ?? [])],
      check_table: CHECK_TABLE,
      min_uptime: setup.minUptime ?? 0,
      state_dir: join(dir, 'var', 'state'),
      log_file: join(dir, 'netgwm.log'),
      hooks_dir: join(dir, 'post-replace.d'),
      status_dir: join(dir, 'status'),
    },
    join(dir, 'netgwm.yml'),
  );
  // The port ranges of the method probes (src/config/probe-paths.ts): gateway i from 61000 + 64 (i - 1).
  if (setup.methods) {
    const ports = (name: string) => ({ from: name === first.name ? 61000 : 61064, to: name === first.name ? 61063 : 61127 });
    config.gateways = config.gateways.map((gateway) => ({
      ...gateway,
      probe: { ...gateway.probe, ports: ports(gateway.name) } as Gateway['probe'],
    }));
  }
  const kernel = fakeKernel({ rules: BOOT_RULES, links: { [first.ip]: first.dev, [second.ip]: second.dev, [MOVED.ip]: MOVED.dev } });
  if (setup.route) kernel.tables.set(MAIN_TABLE, [{ dst: 'default', gateway: setup.route.ip, dev: setup.route.dev }]);
  const recorded = fakeExec((argv, input) => kernel.answer(argv, input));
  // The probe paths a first run installs and later runs keep (tested on their own below).
  await syncProbePaths(recorded, config);
  recorded.calls.splice(0);
  // A simulated kill -9: from the chosen command on, no command returns, so the cycle never goes on.
  let killer: { matches: (argv: string[]) => boolean; when: 'before' | 'after'; died: () => void } | undefined;
  // Kept, so that what a killed run holds (its lock) is never closed by the garbage collector.
  const dead: Promise<never>[] = [];
  const never = () => dead[dead.push(new Promise<never>(() => {})) - 1]!;
  const die = () => {
    killer!.died();
    return never();
  };
  const exec: Exec = async (file, args, options) => {
    const argv = [file, ...args];
    if (killer?.matches(argv) && killer.when === 'before') return die();
    const result = await recorded(file, args, options);
    if (killer?.matches(argv)) return die();
    return result;
  };
  const network = simulatedNetwork(kernel, setup.alive);
  const written: string[] = [];
  const log = createLogger([{ to: { write: (text) => written.push(text) }, level: 'debug', format: 'json' }]);
  const hooks = await Promise.all(
    (setup.hooks ?? ['10-record']).map((name) => recordingHook(config.hooks_dir, name, join(dir, 'hook-calls'))),
  );
  const clock = { now: START };
  let runs = 0;

  return {
    config,
    kernel,
    network,
    clock,
    hooks,
    // Each run is a process of its own: one killed (see killAt) keeps its lock in this test process.
    run: (signal?: AbortSignal) =>
      runCycle(
        config,
        {
          exec,
          ping: network.ping,
          probeSite: setup.methods?.probe,
          log,
          clock: () => clock.now,
          lockWaitMs: 0,
          lockDir: join(dir, `lock-${++runs}`),
        },
        signal,
      ),
    /**
     * Kills the next run at `command`, `before` the kernel sees it or right `after` it answered:
     * that run never settles. Resolves once it is dead.
     */
    killAt: (when: 'before' | 'after', command: string) =>
      new Promise<void>((died) => {
        const matches = (argv: string[]) => argv.join(' ') === command;
        killer = {
          matches,
          when,
          died: () => {
            killer = undefined;
            died();
          },
        };
      }),
    /** The commands run since the last call. */
    commands: () => recorded.calls.splice(0).map((call) => call.argv.join(' ')),
    /** What was logged since the last call, as pino records. */
    logged: () => written.splice(0).map((line) => JSON.parse(line) as LogRecord),
    /** `HOOK $NETGWM_EVENT ARG1 … ARG6` per hook run, in order. */
    hookCalls: async () => (await readFile(join(dir, 'hook-calls'), 'utf8').catch(() => '')).split('\n').filter(Boolean),
    saved: async () => JSON.parse(await readFile(join(config.state_dir, STATE_FILE), 'utf8')) as State,
    statusFile: (gateway: string) => readFile(join(dir, 'status', gateway), 'utf8'),
  };
}

/**
 * Pings answer when the gateway their mark routes them through is alive: what is down is the
 * network's business, not the address's. `stall()` holds the next pings until the cycle aborts.
 */
function simulatedNetwork(kernel: FakeKernel, alive: Named[]) {
  const up = new Set(alive.map((gateway) => gateway.ip));
  let stalled: (() => void) | undefined;
  const ping: Ping = async (address, options) => {
    if (stalled) {
      if (!options.signal) throw new Error('a stalled ping needs a signal to end it');
      stalled();
      await new Promise((resolve) =>
        options.signal!.aborted ? resolve(undefined) : options.signal!.addEventListener('abort', resolve, { once: true }),
      );
      return { address, answered: false, replies: 0, sent: 0 };
    }
    const via = kernel.routeFor(options.mark)?.gateway;
    const answered = via !== undefined && up.has(via);
    return { address, answered, replies: answered ? options.count : 0, sent: options.count, ...(answered && { rttMs: 2.5 }) };
  };
  return {
    ping,
    set: (gateway: Named, alive: boolean) => void (alive ? up.add(gateway.ip) : up.delete(gateway.ip)),
    /** Resolves once a ping is pending. */
    stall: () => new Promise<void>((resolve) => (stalled = resolve)),
  };
}

/** A post-replace.d script that appends its name, NETGWM_EVENT and its six arguments to `record`. */
async function recordingHook(hooksDir: string, name: string, record: string): Promise<string> {
  await mkdir(hooksDir, { recursive: true });
  const path = join(hooksDir, name);
  await writeFile(path, `#!/bin/sh\necho "${name} $NETGWM_EVENT $*" >> '${record}'\n`);
  await chmod(path, 0o755);
  return path;
}

const args = (to: GatewayInfo, from?: GatewayInfo) =>
  [to.name, to.ip, to.dev, from?.name ?? 'NaN', from?.ip ?? 'NaN', from?.dev ?? 'NaN'].join(' ');
const kinds = (records: LogRecord[]) => records.map((record) => record.event);
const routeWrites = (commands: string[]) => commands.filter((command) => /^ip -4 route (replace|add|del)/.test(command));

type Router = Awaited<ReturnType<typeof router>>;

/** The main table's default route the kernel uses: lowest metric, then as listed. */
const kernelPick = (at: Router) =>
  [...(at.kernel.tables.get(MAIN_TABLE) ?? [])]
    .filter((entry) => entry.dst === 'default')
    .sort((a, b) => (a.metric ?? 0) - (b.metric ?? 0))[0];

/** What every cycle leaves in place: each gateway's probe rule and table, nothing in the old check table. */
function expectProbePaths(at: Router) {
  expect(at.kernel.rules).toEqual([
    BOOT_RULES[0],
    { priority: 1000, src: 'all', fwmark: '0x4e470001', table: String(CHECK_TABLE + 1) },
    { priority: 1000, src: 'all', fwmark: '0x4e470002', table: String(CHECK_TABLE + 2) },
    ...BOOT_RULES.slice(1),
  ]);
  const guard = { type: 'unreachable', dst: 'default', metric: 0xffffffff };
  expect(at.kernel.tables.get(CHECK_TABLE + 1)).toEqual([guard, { dst: 'default', gateway: ISP1.ip, dev: ISP1.dev }]);
  expect(at.kernel.tables.get(CHECK_TABLE + 2)).toEqual([guard, { dst: 'default', gateway: ISP2.ip, dev: ISP2.dev }]);
  expect(at.kernel.tables.has(CHECK_TABLE)).toBe(false);
}

describe('runCycle', () => {
  it.each([
    {
      case: 'first start: no default route, so the best gateway up gets it; hooks get start arguments',
      route: undefined,
      alive: [ISP1, ISP2],
      replaced: [`ip -4 route replace default via ${ISP1.ip} dev ${ISP1.dev} proto 194`],
      after: ISP1,
      events: ['gateway-up', 'switched', 'hook-finished', 'cycle-done'],
      probed: ['isp1'],
      hooks: [`10-record start ${args(ISP1)}`],
      lastSwitch: { at: START, to: 'isp1', reason: 'no current gateway' },
      line: `route replaced to: via ${ISP1.ip} dev ${ISP1.dev} (isp1, was none: no current gateway)`,
    },
    {
      case: 'keep: the current gateway is up and none is better; no route command, no hook',
      route: ISP1,
      alive: [ISP1, ISP2],
      replaced: [],
      after: ISP1,
      events: ['gateway-up', 'cycle-done'],
      probed: ['isp1'],
      hooks: [],
      lastSwitch: undefined,
    },
    {
      case: 'switch on failure: the current gateway is down, the backup up; hooks get switch arguments',
      route: ISP1,
      alive: [ISP2],
      replaced: [`ip -4 route replace default via ${ISP2.ip} proto 194`],
      after: ISP2,
      events: ['gateway-down', 'gateway-up', 'switched', 'hook-finished', 'cycle-done'],
      probed: ['isp1', 'isp2'],
      hooks: [`10-record switch ${args(ISP2, ISP1)}`],
      lastSwitch: { at: START, from: 'isp1', to: 'isp2', reason: 'isp1 down, 0/1 sites answered' },
      line: `route replaced to: via ${ISP2.ip} dev ${ISP2.dev} (isp2, was isp1: isp1 down, 0/1 sites answered)`,
    },
  ])('$case', async ({ route, alive, replaced, after, events, probed, hooks, lastSwitch, line }) => {
    const at = await router({ route, alive });
    await at.run();

    expect(routeWrites(at.commands())).toEqual(replaced);
    expect(at.kernel.defaultRoute()).toMatchObject({ dst: 'default', gateway: after.ip, dev: after.dev });
    const records = at.logged();
    expect(kinds(records)).toEqual(events);
    expect(records.at(-1)).toMatchObject({ event: 'cycle-done', current: after.name, probed });
    if (line) expect(records.find((record) => record.event === 'switched')?.msg).toBe(line);
    expect(await at.hookCalls()).toEqual(hooks);

    const saved = await at.saved();
    expect(saved).toMatchObject({ lastCycleAt: START, active: after.name });
    expect(Object.keys(saved.gateways)).toEqual(probed);
    expect(saved.lastSwitch).toEqual(lastSwitch);
    expect(saved.totals?.switches).toBe(lastSwitch ? 1 : undefined);
    expect(saved.pendingHooks).toBeUndefined();
    expect(await at.statusFile(after.name)).toBe('up:203.0.113.10:2.500');
    expectProbePaths(at);
  });

  it('check sites with a method: pings blocked everywhere, the tcp site answers through isp2 only: isp1 down, switch to isp2', async () => {
    const asked: string[] = [];
    const probe: SiteProber = async (site, path) => {
      asked.push(`${site.key} ${path.ports.from}`);
      return path.ports.from === 61064 ? { answered: true, rttMs: 7 } : { answered: false, error: 'timeout' };
    };
    const at = await router({ route: ISP1, alive: [], methods: { sites: [{ tcp: '203.0.113.20:443' }], probe } });
    await at.run();
    expect(routeWrites(at.commands())).toEqual([`ip -4 route replace default via ${ISP2.ip} proto 194`]);
    expect(asked.sort()).toEqual(['tcp:203.0.113.20:443 61000', 'tcp:203.0.113.20:443 61064']);
    const saved = await at.saved();
    expect(saved.lastSwitch?.reason).toBe('isp1 down, 0/2 sites answered');
    // The site's key is its name in the probe window, as a pinged site's address is.
    expect(saved.samples?.isp2?.map((sample) => sample.site)).toEqual(['203.0.113.10', 'tcp:203.0.113.20:443']);
    expect(await at.statusFile('isp2')).toBe('up:tcp:203.0.113.20:443:7.000');
  });

  it('keep runs one command: a read of the rules and routes (probe paths and default route)', async () => {
    const at = await router({ route: ISP1, alive: [ISP1] });
    await at.run();
    expect(at.commands()).toEqual(['ip -N -j -4 -batch -']);
    expectProbePaths(at);
  });

  it('the first run installs every probe path in one ip -batch, logged once; the next run changes nothing', async () => {
    const at = await router({ route: ISP1, alive: [ISP1] });
    at.kernel.rules.splice(1, 2);
    at.kernel.tables.delete(CHECK_TABLE + 1);
    at.kernel.tables.delete(CHECK_TABLE + 2);
    await at.run();
    expect(at.commands()).toEqual(['ip -N -j -4 -batch -', 'ip -4 -force -batch -', 'ip -N -j -4 -batch -']);
    const records = at.logged();
    expect(kinds(records)).toEqual(['probe-paths-repaired', 'gateway-up', 'cycle-done']);
    expect(records[0]).toMatchObject({
      level: 30,
      what: [
        `ip route add unreachable default metric 4294967295 table ${CHECK_TABLE + 1}`,
        `ip route add default via ${ISP1.ip} dev ${ISP1.dev} table ${CHECK_TABLE + 1}`,
        `ip rule add fwmark 0x4e470001 lookup ${CHECK_TABLE + 1} pref 1000`,
        `ip route add unreachable default metric 4294967295 table ${CHECK_TABLE + 2}`,
        `ip route add default via ${ISP2.ip} table ${CHECK_TABLE + 2}`,
        `ip rule add fwmark 0x4e470002 lookup ${CHECK_TABLE + 2} pref 1000`,
      ],
    });
    expectProbePaths(at);
    await at.run();
    expect(at.commands()).toEqual(['ip -N -j -4 -batch -']);
    expect(kinds(at.logged())).toEqual(['cycle-done']);
  });

  it('removes the single check table an older version left (its rule and route), keeping the probe paths', async () => {
    const at = await router({ route: ISP1, alive: [ISP1] });
    at.kernel.rules.splice(1, 0, { priority: 1000, src: 'all', fwmark: '0x4e470000', table: String(CHECK_TABLE) });
    at.kernel.tables.set(CHECK_TABLE, [{ dst: 'default', gateway: ISP2.ip, dev: ISP2.dev }]);
    await at.run();

    const records = at.logged();
    expect(kinds(records)).toEqual(['probe-paths-repaired', 'gateway-up', 'cycle-done']);
    expect(records[0]).toMatchObject({
      what: [`ip rule del pref 1000 fwmark 0x4e470000 lookup ${CHECK_TABLE}`, `ip route flush table ${CHECK_TABLE}`],
    });
    expectProbePaths(at);
  });

  it('a gateway whose route cannot be installed (its link is down) is down without a ping; the others are probed; it comes back with its link', async () => {
    const at = await router({ route: ISP1, alive: [ISP1, ISP2] });
    at.kernel.setLink(ISP1.dev, false); // the kernel drops isp1's routes with its link
    await at.run();
    const records = at.logged();
    // The unreachable route stays: isp1's probes fail at once instead of leaving through isp2.
    expect(at.kernel.tables.get(CHECK_TABLE + 1)).toEqual([{ type: 'unreachable', dst: 'default', metric: 0xffffffff }]);
    expect(kinds(records)).toEqual(['gateway-down', 'gateway-up', 'switched', 'hook-finished', 'cycle-done']);
    expect(records[0]).toMatchObject({
      gateway: 'isp1',
      observation: { up: false, error: `no route via ${ISP1.ip} dev ${ISP1.dev}: Error: Nexthop device is not up.` },
    });
    expect(at.kernel.defaultRoute()?.gateway).toBe(ISP2.ip);

    at.kernel.setLink(ISP1.dev, true);
    at.clock.now += 60_000;
    await at.run();
    expect(kinds(at.logged())).toEqual(['probe-paths-repaired', 'gateway-up', 'switched', 'hook-finished', 'cycle-done']);
    expectProbePaths(at);
    expect(at.kernel.defaultRoute()?.gateway).toBe(ISP1.ip); // min_uptime 0: back at once
  });

  it.each([
    {
      case: 'refuses the replace',
      refuse: (kernel: FakeKernel) => (kernel.mainRefuses = 'Error: Nexthop device is not up.'),
      error: 'Nexthop device is not up.',
    },
    {
      case: 'takes the replace but keeps routing through another gateway',
      refuse: (kernel: FakeKernel) => (kernel.mainReverts = true),
      error: `the kernel still uses another default route: default via ${ISP1.ip} dev ${ISP1.dev} metric 0`,
    },
  ])('the kernel $case: switch-failed, no hooks, no switch recorded', async ({ refuse, error }) => {
    const at = await router({ route: ISP1, alive: [ISP2] });
    refuse(at.kernel);
    await at.run();

    expect(routeWrites(at.commands())).toEqual([`ip -4 route replace default via ${ISP2.ip} proto 194`]);
    expect(at.kernel.defaultRoute()).toEqual({ dst: 'default', gateway: ISP1.ip, dev: ISP1.dev });
    const records = at.logged();
    expect(kinds(records)).toEqual(['gateway-down', 'gateway-up', 'switch-failed', 'cycle-done']);
    expect(records[2]).toMatchObject({
      to: { name: 'isp2', ip: ISP2.ip },
      reason: 'isp1 down, 0/1 sites answered',
      error: expect.stringContaining(error),
    });
    expect(await at.hookCalls()).toEqual([]);
    const saved = await at.saved();
    expect(saved).toMatchObject({ active: 'isp1', gateways: { isp1: { up: false }, isp2: { up: true } } });
    expect([saved.lastSwitch, saved.totals, saved.pendingHooks]).toEqual([undefined, undefined, undefined]);
    expectProbePaths(at);
  });

  it('aborted while a ping is pending: returns without switching or saving, the probe paths stay', async () => {
    const at = await router({ route: ISP1, alive: [ISP2] });
    const stop = new AbortController();
    const pending = at.network.stall();
    const cycle = at.run(stop.signal);
    await Promise.race([pending, cycle]);
    stop.abort();
    await cycle;

    expect(routeWrites(at.commands())).toEqual([]);
    expectProbePaths(at);
    expect(at.kernel.defaultRoute()?.gateway).toBe(ISP1.ip);
    expect(kinds(at.logged())).toEqual([]);
    expect(await at.hookCalls()).toEqual([]);
    await expect(at.saved()).rejects.toThrow(/ENOENT/);
  });

  it.each([
    {
      case: 'resumes the hooks an interrupted switch did not run, with the same arguments, then forgets them',
      route: ISP2,
      events: ['hooks-resumed', 'hook-finished', 'gateway-up', 'gateway-down', 'cycle-done'],
      hooks: [`20-flush switch ${args(ISP2, ISP1)}`],
    },
    {
      case: 'forgets, unrun, the pending hooks of a switch the route has left since',
      route: ISP1,
      events: ['gateway-up', 'cycle-done'],
      hooks: [],
    },
  ])('$case', async ({ route, events, hooks }) => {
    const at = await router({ route, alive: [route], hooks: ['10-vpn', '20-flush'] });
    const lastSwitch = { at: START - 60_000, from: 'isp1', to: 'isp2', reason: 'isp1 down, 0/1 sites answered' };
    const pendingHooks = { to: ISP2, from: ISP1, reason: lastSwitch.reason, done: [at.hooks[0]!] };
    await saveState(at.config.state_dir, { version: 1, gateways: {}, resolved: {}, active: 'isp2', lastSwitch, pendingHooks });
    await at.run();

    const records = at.logged();
    expect(kinds(records)).toEqual(events);
    if (hooks.length > 0) expect(records[0]).toMatchObject({ event: 'hooks-resumed', to: 'isp2', hooks: 1 });
    expect(await at.hookCalls()).toEqual(hooks);
    expect(routeWrites(at.commands())).toEqual([]);
    const saved = await at.saved();
    expect(saved.pendingHooks).toBeUndefined();
    expect(saved.lastSwitch).toEqual(lastSwitch);
  });

  it('killed right after the kernel took the route: the next cycle logs the lost switch line, records the switch and runs every hook with the same arguments', async () => {
    const at = await router({ route: ISP1, alive: [ISP2], hooks: ['10-vpn', '20-flush'] });
    const died = at.killAt('after', `ip -4 route replace default via ${ISP2.ip} proto 194`);
    void at.run();
    await died;
    expect(at.kernel.defaultRoute()?.gateway).toBe(ISP2.ip);
    expect(kinds(at.logged())).toEqual(['gateway-down', 'gateway-up']); // the switch line died with it
    expect(await at.hookCalls()).toEqual([]);
    expect((await at.saved()).pendingHooks).toEqual({
      to: { name: 'isp2', ip: ISP2.ip },
      from: ISP1,
      reason: 'isp1 down, 0/1 sites answered',
      done: [],
      at: START,
      unconfirmed: true,
    });

    at.clock.now = START + 60_000;
    at.commands();
    await at.run();
    const records = at.logged();
    expect(kinds(records)).toEqual(['switched', 'hooks-resumed', 'hook-finished', 'hook-finished', 'cycle-done']);
    expect(records[0]?.msg).toBe(`route replaced to: via ${ISP2.ip} dev ${ISP2.dev} (isp2, was isp1: isp1 down, 0/1 sites answered)`);
    expect(records[1]).toMatchObject({ to: 'isp2', hooks: 2 });
    expect(await at.hookCalls()).toEqual([`10-vpn switch ${args(ISP2, ISP1)}`, `20-flush switch ${args(ISP2, ISP1)}`]);
    expect(routeWrites(at.commands())).toEqual([]);
    const saved = await at.saved();
    expect(saved.lastSwitch).toEqual({ at: START, from: 'isp1', to: 'isp2', reason: 'isp1 down, 0/1 sites answered' });
    expect(saved.totals).toEqual({ switches: 1, hookFailures: 0 });
    expect([saved.active, saved.pendingHooks]).toEqual(['isp2', undefined]);
  });

  it('killed before the route changed: the next cycle runs no hook for the switch that did not happen', async () => {
    const at = await router({ route: ISP1, alive: [ISP2] });
    const died = at.killAt('before', `ip -4 route replace default via ${ISP2.ip} proto 194`);
    void at.run();
    await died;
    expect(at.kernel.defaultRoute()?.gateway).toBe(ISP1.ip);
    expect((await at.saved()).pendingHooks).toMatchObject({ to: { name: 'isp2' }, unconfirmed: true });

    at.network.set(ISP1, true); // isp1 answers again: nothing to switch now
    at.logged();
    await at.run();
    expect(kinds(at.logged())).toEqual(['gateway-up', 'cycle-done']);
    expect(await at.hookCalls()).toEqual([]);
    const saved = await at.saved();
    expect([saved.active, saved.lastSwitch, saved.totals, saved.pendingHooks]).toEqual(['isp1', undefined, undefined, undefined]);
  });

  it.each([
    {
      case: 'a blackhole with a lower metric than the current route',
      blackhole: 5,
      writes: [`ip -4 route replace default via ${ISP1.ip} dev ${ISP1.dev} proto 194`],
      action: "netgwm puts isp1's route back in front, at metric 0",
      deleted: false,
    },
    {
      case: 'a blackhole listed first at the same metric',
      blackhole: 0,
      writes: ['ip -4 route del blackhole default metric 0', `ip -4 route replace default via ${ISP1.ip} dev ${ISP1.dev} proto 194`],
      action: "netgwm deletes it and puts isp1's route back",
      deleted: true,
    },
  ])(
    "$case wins in the kernel: logged once as an error, netgwm's route made the one used, the end logged once",
    async ({ blackhole, writes, action, deleted }) => {
      const at = await router({ alive: [ISP1, ISP2] });
      const route = `blackhole default metric ${blackhole}`;
      at.kernel.tables.set(MAIN_TABLE, [
        { type: 'blackhole', dst: 'default', metric: blackhole },
        { dst: 'default', gateway: ISP1.ip, dev: ISP1.dev, metric: blackhole },
      ]);
      await at.run();

      const records = at.logged();
      expect(kinds(records)).toEqual(['foreign-default', 'gateway-up', 'cycle-done']);
      expect(records[0]).toMatchObject({
        level: 50,
        msg: `the kernel routes by a default route netgwm did not set: ${route}, ahead of isp1's; ${action} (logged once; remove that route, or give it a metric above 0, so that netgwm's route is the one used)`,
      });
      expect(routeWrites(at.commands())).toEqual(writes);
      expect(kernelPick(at)).toEqual({ dst: 'default', gateway: ISP1.ip, dev: ISP1.dev, protocol: '194' });
      expect(await at.hookCalls()).toEqual([]); // the gateway did not change
      expect(await at.saved()).toMatchObject({ active: 'isp1', foreignDefault: route });

      if (!deleted) {
        await at.run(); // the blackhole is still there, but loses: nothing logged again, nothing changed
        expect(kinds(at.logged())).toEqual(['cycle-done']);
        expect(routeWrites(at.commands())).toEqual([]);
        at.kernel.tables.set(
          MAIN_TABLE,
          at.kernel.tables.get(MAIN_TABLE)!.filter((entry) => entry.type !== 'blackhole'),
        );
      }
      await at.run();
      expect(routeWrites(at.commands())).toEqual([]);
      const ended = at.logged();
      expect(kinds(ended)).toEqual(['foreign-default-gone', 'cycle-done']);
      expect(ended[0]).toMatchObject({ level: 30, msg: `the default route ${route} that was used instead of netgwm's is gone` });
      expect((await at.saved()).foreignDefault).toBeUndefined();
      await at.run();
      expect(kinds(at.logged())).toEqual(['cycle-done']);
    },
  );

  it('a blackhole as the only default route: logged, and the best gateway up gets the route (hooks as at a first start)', async () => {
    const at = await router({ alive: [ISP1, ISP2] });
    at.kernel.tables.set(MAIN_TABLE, [{ type: 'blackhole', dst: 'default' }]);
    await at.run();
    const records = at.logged();
    expect(kinds(records)).toEqual(['foreign-default', 'gateway-up', 'switched', 'hook-finished', 'cycle-done']);
    expect(records[0]?.msg).toMatch(
      /^the kernel routes by a default route netgwm did not set: blackhole default metric 0; netgwm moves the default route to the best gateway that is up, at metric 0 /,
    );
    expect(kernelPick(at)).toEqual({ dst: 'default', gateway: ISP1.ip, dev: ISP1.dev, protocol: '194' });
    expect(await at.hookCalls()).toEqual([`10-record start ${args(ISP1)}`]);
  });

  it("a state that cannot be saved: state-save-failed is logged, the switch's hooks still run, the cycle does not throw", async () => {
    const at = await router({ route: ISP1, alive: [ISP2] });
    await writeFile(dirname(at.config.state_dir), 'a regular file, not a directory\n');
    await expect(at.run()).resolves.toBeDefined();

    const records = at.logged();
    expect(kinds(records).filter((kind) => kind !== 'state-save-failed')).toEqual([
      'state-unreadable',
      'gateway-down',
      'gateway-up',
      'switched',
      'hook-finished',
      'cycle-done',
    ]);
    expect(records.find((record) => record.event === 'state-save-failed')).toMatchObject({
      dir: at.config.state_dir,
      error: expect.stringContaining('ENOTDIR'),
    });
    expect(await at.hookCalls()).toEqual([`10-record switch ${args(ISP2, ISP1)}`]);
    expect(at.kernel.defaultRoute()?.gateway).toBe(ISP2.ip);
  });

  it.each([
    ['constructor', 'toString'],
    ['hasOwnProperty', 'valueOf'],
  ])('gateways named %s and %s are ordinary names: start, failover, saved state read back, status files', async (primary, backup) => {
    const [one, two] = [
      { ...ISP1, name: primary },
      { ...ISP2, name: backup },
    ];
    const at = await router({ alive: [one, two], gateways: [one, two] });
    await at.run();
    expect(at.kernel.defaultRoute()?.gateway).toBe(one.ip);
    at.network.set(one, false);
    at.clock.now += 60_000;
    await at.run(); // reads the state the first cycle saved, with these names as keys
    expect(at.kernel.defaultRoute()?.gateway).toBe(two.ip);

    expect(kinds(at.logged())).toEqual([
      'gateway-up',
      'switched',
      'hook-finished',
      'cycle-done',
      'gateway-down',
      'gateway-up',
      'switched',
      'hook-finished',
      'cycle-done',
    ]);
    expect(await at.hookCalls()).toEqual([`10-record start ${args(one)}`, `10-record switch ${args(two, one)}`]);
    const saved = await at.saved();
    expect(Object.keys(saved.gateways)).toEqual([primary, backup]);
    expect(saved.gateways[primary]).toEqual({
      up: false,
      since: START + 60_000,
      checkedAt: START + 60_000,
      reason: 'down: 0/1 sites answered',
    });
    expect(saved.lastSwitch).toMatchObject({ from: primary, to: backup });
    expect(await at.statusFile(primary)).toBe('down');
    expect(await at.statusFile(backup)).toBe('up:203.0.113.10:2.500');
  });

  it('a hook others could have written is not run, and its refusal is logged once per reason, with the fix', async () => {
    const at = await router({ route: ISP1, alive: [ISP1], hooks: ['10-record', '20-loose'] });
    const loose = at.hooks[1]!;
    await chmod(loose, 0o777);
    const refusals = () => at.logged().filter((record) => record.event === 'hook-refused');

    await at.run();
    const reason = `it (${loose}) is writable by group and others (mode 0777)`;
    expect(refusals()).toEqual([
      expect.objectContaining({
        hook: loose,
        reason,
        fix: `chmod go-w ${loose}`,
        msg: `hook ${loose} not run: ${reason}; if you trust its content, run \`chmod go-w ${loose}\``,
      }),
    ]);
    expect((await at.saved()).refusedHooks).toEqual({ [loose]: reason });
    await at.run();
    expect(refusals()).toEqual([]); // said once, not in every cycle

    at.network.set(ISP1, false);
    at.network.set(ISP2, true);
    await at.run(); // a switch: the safe hook runs, the loose one does not, and is not logged again
    expect(refusals()).toEqual([]);
    expect(await at.hookCalls()).toEqual([`10-record switch ${args(ISP2, ISP1)}`]);

    await chmod(loose, 0o775);
    await at.run();
    expect(refusals()).toMatchObject([{ hook: loose, reason: `it (${loose}) is writable by group (mode 0775)` }]);
    await chmod(loose, 0o755);
    await at.run();
    expect((await at.saved()).refusedHooks).toBeUndefined();
  });

  it('a hooks directory that cannot be read (a link to itself) does not fail a cycle without a switch', async () => {
    const at = await router({ route: ISP1, alive: [ISP1] });
    await rm(at.config.hooks_dir, { recursive: true });
    await symlink(at.config.hooks_dir, at.config.hooks_dir);
    await expect(at.run()).resolves.toBeDefined();
    expect(kinds(at.logged())).toEqual(['gateway-up', 'cycle-done']);
  });

  it('hold-down: the backup takes over at once; the primary gets the traffic back only after min_uptime', async () => {
    const at = await router({ route: ISP1, alive: [ISP2], minUptime: 60 });
    const cycleAt = async (seconds: number) => {
      at.clock.now = START + seconds * 1000;
      await at.run();
      return at.kernel.defaultRoute()?.gateway;
    };
    const switches = () =>
      at
        .logged()
        .filter((record) => record.event === 'switched')
        .map((record) => record.reason);

    expect(await cycleAt(0)).toBe(ISP2.ip);
    expect(switches()).toEqual(['isp1 down, 0/1 sites answered; no gateway is stable yet, isp2 is the best one up']);
    at.network.set(ISP1, true);
    expect(await cycleAt(100)).toBe(ISP2.ip); // isp1 seen up again
    expect(await cycleAt(130)).toBe(ISP2.ip);
    expect(await cycleAt(161)).toBe(ISP1.ip);

    expect(switches()).toEqual(['isp1 is back and stable, up for 1m01s']);
    expect(await at.hookCalls()).toEqual([`10-record switch ${args(ISP2, ISP1)}`, `10-record switch ${args(ISP1, ISP2)}`]);
    expect((await at.saved()).lastSwitch).toEqual({
      at: START + 161_000,
      from: 'isp2',
      to: 'isp1',
      reason: 'isp1 is back and stable, up for 1m01s',
    });
  });

  it("an `ip: auto` gateway follows the DHCP client's route: probe path and default route move, logged, no switch, no hooks", async () => {
    const at = await router({ alive: [ISP1, ISP2, MOVED], auto: true });
    const lease = (ip: string) => ({ dst: 'default', gateway: ip, dev: 'wan1', metric: 100 }); // the client's, at metric 100
    // The DHCP client's route alone is isp1's: it is the current gateway (no switch, no hooks), and
    // netgwm's own route goes in front of the client's, at metric 0.
    at.kernel.tables.set(MAIN_TABLE, [lease(ISP1.ip)]);
    await at.run();
    expect(at.kernel.tables.get(MAIN_TABLE)).toEqual([lease(ISP1.ip), { dst: 'default', gateway: ISP1.ip, dev: 'wan1', protocol: '194' }]);
    expect(await at.hookCalls()).toEqual([]);
    expect((await at.saved()).addresses).toEqual({ isp1: ISP1.ip });
    at.logged();

    // A new lease: the client replaces its own route; netgwm's (metric 0) still goes the old way.
    at.kernel.tables.set(MAIN_TABLE, [kernelPick(at)!, lease(MOVED.ip)]);
    at.network.set(ISP1, false);
    await at.run();
    expect(kernelPick(at)).toEqual({ dst: 'default', gateway: MOVED.ip, dev: 'wan1', protocol: '194' });
    expect(at.kernel.tables.get(MAIN_TABLE)).toContainEqual(lease(MOVED.ip)); // the client's route is left alone
    expect(at.kernel.routeFor(0x4e470001)?.gateway).toBe(MOVED.ip); // the probe path moved too
    const lines = at.logged().map((record) => record.msg);
    expect(lines).toContain('gateway isp1 (ip: auto) is now 192.0.2.3 (was 192.0.2.1), as the kernel has it for wan1');
    expect(lines).toContain(
      "netgwm's default route follows isp1 (ip: auto): default via 192.0.2.3 dev wan1 metric 0 (was default via 192.0.2.1 dev wan1 metric 0)",
    );
    expect(lines.some((line) => line.startsWith('route replaced'))).toBe(false);
    expect(await at.hookCalls()).toEqual([]);
    expect((await at.saved()).addresses).toEqual({ isp1: MOVED.ip });
  });
});
