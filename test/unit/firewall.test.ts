// The firewall steps of a cycle against a simulated kernel: which commands run when, what the
// state records, what is logged. The real nft, ip and conntrack are in test/e2e/firewall.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { compileConfig, type Config } from '../../src/config/load.js';
import { emptyState, type State } from '../../src/core/types.js';
import { firewallAfterSwitch, flushConntrack, keepFirewall, keepFirewallShares, type FirewallDeps } from '../../src/firewall.js';
import { flushLeft } from '../../src/balance.js';
import type { NetgwmEvent } from '../../src/log/events.js';
import { fakeExec, type Answer } from './system/fake-exec.js';
import { fakeKernel } from './system/fake-kernel.js';
import { tempDir } from '../support/temp-dir.js';

let dir: string;

beforeAll(async () => {
  dir = await tempDir('firewall');
  await mkdir(join(dir, 'etc/iproute2'), { recursive: true });
  await writeFile(join(dir, 'etc/iproute2/rt_tables'), '194 netgwm_check\n101 uplink1\n102 uplink2\n');
  await mkdir(join(dir, 'bin'));
  for (const tool of ['nft', 'conntrack']) await writeFile(join(dir, 'bin', tool), '#!/bin/sh\n', { mode: 0o755 });
});

async function configWith(extra: Record<string, unknown>): Promise<Config> {
  const data = {
    gateways: {
      isp1: { ip: '192.0.2.1', dev: 'wan_1', priority: 1, mark: 1, table: 'uplink1' },
      isp2: { ip: '192.0.2.5', dev: 'wan-2', priority: 2, mark: 2, table: 'uplink2' },
    },
    check_sites: ['198.51.100.1'],
    nftables: { verify_interval: 60 },
    conntrack: { flush: 'old' },
    ...extra,
  };
  return compileConfig(data, join(dir, 'netgwm.yml'), { rtTablesRoot: dir, searchPath: join(dir, 'bin') });
}

/** The kernel as far as these steps see it: ip rules (the shared simulation), one nft table, conntrack. */
function simulatedKernel() {
  const kernel = Object.assign(fakeKernel(), { table: undefined as string | undefined, failNft: false, conntrackDeleted: 3 });
  const answer = (argv: string[], input?: string): Answer => {
    const command = argv.join(' ');
    if (argv[0] === 'ip') return kernel.answer(argv, input);
    if (argv[0] === 'nft' && argv.includes('-f')) {
      if (kernel.failNft) return { exitCode: 1, stderr: 'netlink: Error: Could not process rule: Operation not supported\n' };
      if (argv[1] !== '-c') kernel.table = input!.includes('table inet netgwm {') ? input : undefined;
      return undefined;
    }
    if (command === 'nft -t list table inet netgwm')
      return kernel.table === undefined
        ? { exitCode: 1, stderr: 'Error: No such file or directory' }
        : { stdout: `listing of ${kernel.table.length} bytes` };
    if (argv[0] === 'conntrack')
      return { stderr: `conntrack v1.4.7 (conntrack-tools): ${kernel.conntrackDeleted} flow entries have been deleted.\n` };
    throw new Error(`unexpected command ${command}`);
  };
  return { kernel, answer };
}

describe('firewall steps', () => {
  let config: Config;
  let sim: ReturnType<typeof simulatedKernel>;
  let exec: ReturnType<typeof fakeExec>;
  let events: NetgwmEvent[];
  let now: number;
  let deps: FirewallDeps;
  let state: State;
  const isp = (name: string) => config.gateways.find((gateway) => gateway.name === name)!;
  const commands = () => exec.calls.splice(0).map((call) => call.argv.join(' '));
  const kinds = () => events.splice(0).map((event) => event.kind);

  beforeEach(async () => {
    config = await configWith({});
    sim = simulatedKernel();
    exec = fakeExec(sim.answer);
    events = [];
    now = 1_000_000;
    deps = { exec, log: { event: (event) => events.push(event), reopen: () => {}, setLevel: () => {} }, clock: () => now };
    state = emptyState();
  });

  it('first cycle: adds the rules and loads the table, checked first; records what it loaded', async () => {
    expect(await keepFirewall(config, deps, state, isp('isp1'))).toBe(true);
    expect(commands()).toEqual(['ip -N -j -4 rule list', 'ip -4 -batch -', 'nft -c -f -', 'nft -f -', 'nft -t list table inet netgwm']);
    expect(sim.kernel.rules.map((rule) => `${rule.priority} ${rule.fwmark ?? 'main'} ${rule.table}`)).toEqual([
      '1100 main 254',
      '1101 0x1 101',
      '1101 0x2 102',
    ]);
    expect(sim.kernel.table).toContain('comment "active isp1: new forwarded connections"');
    expect(events).toContainEqual({ kind: 'firewall-loaded', table: 'inet netgwm', enabled: true, active: 'isp1', mark: 1 });
    expect(state.firewall).toMatchObject({
      table: 'inet netgwm',
      rulePref: 1100,
      verifiedAt: now,
      hash: expect.stringMatching(/^[0-9a-f]{16}$/),
    });
  });

  it('a cycle with nothing to change runs no nft command, and no command that writes', async () => {
    await keepFirewall(config, deps, state, isp('isp1'));
    commands();
    for (let cycle = 0; cycle < 100; cycle++) {
      now += 500;
      expect(await keepFirewall(config, deps, state, isp('isp1'))).toBe(true);
    }
    expect(new Set(commands())).toEqual(new Set(['ip -N -j -4 rule list']));
  });

  it('a switch loads the table with the new active mark; rules stay', async () => {
    await keepFirewall(config, deps, state, isp('isp1'));
    commands();
    await keepFirewall(config, deps, state, isp('isp2'));
    expect(commands()).toEqual(['ip -N -j -4 rule list', 'nft -c -f -', 'nft -f -', 'nft -t list table inet netgwm']);
    expect(sim.kernel.table).toContain('comment "active isp2: new forwarded connections"');
  });

  it('verifies the table every verify_interval and reloads it when someone removed it', async () => {
    await keepFirewall(config, deps, state, isp('isp1'));
    commands();
    now += 60_000;
    await keepFirewall(config, deps, state, isp('isp1'));
    expect(commands()).toEqual(['ip -N -j -4 rule list', 'nft -t list table inet netgwm']);
    expect(state.firewall!.verifiedAt).toBe(now);

    sim.kernel.table = undefined; // `nft flush ruleset`, `systemctl reload nftables`…
    sim.kernel.rules = [];
    kinds();
    now += 60_000;
    await keepFirewall(config, deps, state, isp('isp1'));
    expect(kinds()).toEqual(['mark-rules-changed', 'firewall-drifted', 'firewall-loaded']);
    expect(sim.kernel.table).toContain('active isp1');
    expect(sim.kernel.rules).toHaveLength(3);
  });

  it("a failed load keeps the old rules and the old record, logs nft's message, and the next cycle retries", async () => {
    await keepFirewall(config, deps, state, isp('isp1'));
    const loaded = { table: sim.kernel.table, record: state.firewall };
    sim.kernel.failNft = true;
    kinds();
    expect(await keepFirewall(config, deps, state, isp('isp2'))).toBe(false);
    expect(sim.kernel.table).toBe(loaded.table);
    expect(state.firewall).toEqual(loaded.record);
    expect(events).toEqual([
      {
        kind: 'firewall-failed',
        table: 'inet netgwm',
        error: '`nft -c -f -` failed with exit code 1: netlink: Error: Could not process rule: Operation not supported',
      },
    ]);
    events.length = 0;

    sim.kernel.failNft = false;
    expect(await keepFirewall(config, deps, state, isp('isp2'))).toBe(true);
    expect(sim.kernel.table).toContain('active isp2');
  });

  it('without an nftables section: touches nothing, but removes once what an earlier section loaded', async () => {
    const without = await configWith({ nftables: undefined, gateways: { isp1: { ip: '192.0.2.1', priority: 1, mark: 1 } } });
    const fresh = emptyState();
    expect(await keepFirewall(without, deps, fresh, isp('isp1'))).toBe(true);
    expect(commands()).toEqual([]);

    await keepFirewall(config, deps, state, isp('isp1'));
    expect(sim.kernel.table).toBeDefined();
    kinds();
    expect(await keepFirewall(without, deps, state, isp('isp1'))).toBe(true);
    expect(sim.kernel.rules).toEqual([]);
    expect(sim.kernel.table).toBeUndefined();
    expect(kinds()).toEqual(['mark-rules-changed', 'firewall-loaded']);
    commands();
    expect(await keepFirewall(without, deps, state, isp('isp1'))).toBe(true);
    expect(commands()).toEqual([]);
    expect(state.firewall).toBeUndefined();
  });

  it('enabled: false removes the rules and the table once', async () => {
    await keepFirewall(config, deps, state, isp('isp1'));
    const disabled = await configWith({ nftables: { enabled: false } });
    kinds();
    await keepFirewall(disabled, deps, state, isp('isp1'));
    expect(sim.kernel.rules).toEqual([]);
    expect(sim.kernel.table).toBeUndefined();
    expect(kinds()).toEqual(['mark-rules-changed', 'firewall-loaded']);
    commands();
    await keepFirewall(disabled, deps, state, isp('isp1'));
    expect(commands()).toEqual(['ip -N -j -4 rule list']);
  });

  it("conntrack: deletes the old gateway's entries and logs the count; skips when there was no old gateway", async () => {
    expect(await flushConntrack(config, deps, isp('isp1'))).toBe(true);
    expect(commands()).toEqual(['conntrack -D --mark 0x1/0xff']);
    expect(await flushConntrack(config, deps, undefined)).toBe(true);
    expect(commands()).toEqual([]);
    expect(events).toEqual([
      { kind: 'conntrack-flushed', flush: 'old', filter: '--mark 0x1/0xff', count: 3 },
      { kind: 'conntrack-skipped', why: 'there was no old gateway' },
    ]);
    expect(await flushConntrack(await configWith({ conntrack: { flush: 'none' } }), deps, isp('isp1'))).toBe(true);
    expect(commands()).toEqual([]);
  });

  it('after a switch: nftables, then conntrack even when nftables failed; the switch is reported partial', async () => {
    sim.kernel.failNft = true;
    expect(await firewallAfterSwitch(config, deps, state, isp('isp2'), isp('isp1'))).toEqual(['nftables']);
    expect(commands().at(-1)).toBe('conntrack -D --mark 0x1/0xff');
    expect(kinds()).toEqual(['mark-rules-changed', 'firewall-failed', 'conntrack-flushed', 'switch-incomplete']);
  });
});

describe('firewall steps with a balanced tier (isp1 3 : isp2 1, flush: all)', () => {
  let config: Config;
  let sim: ReturnType<typeof simulatedKernel>;
  let exec: ReturnType<typeof fakeExec>;
  let events: NetgwmEvent[];
  let deps: FirewallDeps;
  let state: State;
  const isp = (name: string) => config.gateways.find((gateway) => gateway.name === name)!;
  const commands = () => exec.calls.splice(0).map((call) => call.argv.join(' '));
  const up = (isp1: boolean, isp2: boolean) => {
    state.gateways = { isp1: { up: isp1, since: 0, checkedAt: 1_000_000 }, isp2: { up: isp2, since: 0, checkedAt: 1_000_000 } };
  };

  beforeEach(async () => {
    config = await configWith({
      gateways: {
        isp1: { ip: '192.0.2.1', dev: 'wan_1', priority: 1, weight: 3, mark: 1, table: 'uplink1' },
        isp2: { ip: '192.0.2.5', dev: 'wan-2', priority: 1, weight: 1, mark: 2, table: 'uplink2' },
      },
      conntrack: { flush: 'all' },
    });
    sim = simulatedKernel();
    exec = fakeExec(sim.answer);
    events = [];
    deps = { exec, log: { event: (event) => events.push(event), reopen: () => {}, setLevel: () => {} }, clock: () => 1_000_000 };
    state = emptyState();
    up(true, true);
    expect(await keepFirewallShares(config, deps, state, isp('isp1'), 'auto')).toEqual({ ok: true, balanced: true, left: [] });
    expect(sim.kernel.table).toContain('numgen random mod 4 vmap { 0-2 : goto gw_1, 3 : goto gw_2 }');
    expect(state.balance).toEqual({ tiers: { '1': ['isp1', 'isp2'] }, rules: [], used: ['isp1', 'isp2'] });
    expect(events.at(-1)).toEqual({
      kind: 'balance-changed',
      policy: 'default tier 1: isp1 75 %, isp2 25 %',
      joined: ['isp1', 'isp2'],
      left: [],
    });
    commands();
    events = [];
  });

  it('a member down: the table without it, then only its connections flushed, by its mark', async () => {
    up(true, false);
    expect(await keepFirewallShares(config, deps, state, isp('isp1'), 'auto')).toEqual({ ok: true, balanced: true, left: ['isp2'] });
    expect(sim.kernel.table).toContain('goto gw_1 comment "default: isp1"');
    expect(await flushLeft(config, deps, ['isp2'])).toBe(true);
    expect(commands()).toEqual([
      'ip -N -j -4 rule list',
      'nft -c -f -',
      'nft -f -',
      'nft -t list table inet netgwm',
      'conntrack -D --mark 0x2/0xff',
    ]);
  });

  it("the route's member down: the switch flushes its connections only, never the whole table", async () => {
    up(false, true);
    expect(await firewallAfterSwitch(config, deps, state, isp('isp2'), isp('isp1'), 'auto')).toEqual([]);
    expect(commands().filter((command) => command.startsWith('conntrack'))).toEqual(['conntrack -D --mark 0x1/0xff']);
    expect(events.map((event) => event.kind)).toEqual(['firewall-loaded', 'balance-changed', 'conntrack-flushed']);
  });

  it('a table nft refuses: the shares in the state stay as loaded, and nothing is flushed', async () => {
    sim.kernel.failNft = true;
    up(true, false);
    expect(await keepFirewallShares(config, deps, state, isp('isp1'), 'auto')).toEqual({ ok: false, balanced: true, left: [] });
    expect(state.balance?.used).toEqual(['isp1', 'isp2']);
    expect(commands().some((command) => command.startsWith('conntrack'))).toBe(false);
  });

  it('a pinned gateway is not balanced', async () => {
    await keepFirewallShares(config, deps, state, isp('isp2'), 'isp2');
    expect(sim.kernel.table).toContain('goto gw_2 comment "default: isp2"');
    expect(state.balance?.used).toEqual(['isp2']);
  });
});
