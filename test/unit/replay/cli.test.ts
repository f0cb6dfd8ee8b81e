// `netgwm replay` as the command line runs it: options, output, errors.
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ConfigError, UsageError } from '../../../src/errors.js';
import { runReplay } from '../../../src/replay/cli.js';
import { tempDir } from '../../support/temp-dir.js';

let dir: string;
let config: string;
let other: string;
let scenario: string;

/** A config that needs no rt_tables entry (numbered check table), hooks beside it. */
const configText = (minUptime: number) => `gateways:
  isp1: {ip: 192.0.2.1, dev: eth1, priority: 1}
  isp2: {ip: 198.51.100.1, dev: eth2, priority: 2}
check_sites: [192.0.2.53, 203.0.113.53]
check_table: 194
min_uptime: ${minUptime}
`;

beforeAll(async () => {
  dir = await tempDir('replay-cli');
  config = join(dir, 'netgwm.yml');
  other = join(dir, 'other.yml');
  scenario = join(dir, 'outage.yml');
  await writeFile(config, configText(120));
  await writeFile(other, configText(900));
  await writeFile(scenario, 'name: outage\nduration: 20m\nstart: isp1\ngateways:\n  isp1: [{for: 5m}, {for: 2m, state: down}]\n');
  await mkdir(join(dir, 'post-replace.d'));
  for (const hook of ['10-flush', '20-mail']) {
    await writeFile(join(dir, 'post-replace.d', hook), '#!/bin/sh\n');
    await chmod(join(dir, 'post-replace.d', hook), 0o755);
  }
});

afterEach(() => {
  vi.restoreAllMocks();
});

/** Runs `netgwm replay ARGS`, returning what it printed on stdout. */
async function replay(...args: string[]): Promise<{ code: number; stdout: string }> {
  let stdout = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    stdout += String(chunk);
    return true;
  });
  const code = await runReplay(args);
  vi.restoreAllMocks();
  return { code, stdout };
}

describe('netgwm replay', () => {
  it('prints the timeline and the summary', async () => {
    const { code, stdout } = await replay('-c', config, '--scenario', scenario, '--interval', '60');
    expect(code).toBe(0);
    expect(stdout).toContain(`Replay of outage (${scenario})`);
    expect(stdout).toMatch(/\+0:05:00\.\d{3} {2}isp1 down \(was up\): 0\/2 sites answered in 3 rounds/);
    expect(stdout).toMatch(/\+0:05:00\.8\d\d {2}switch isp1 → isp2: isp1 down/);
    expect(stdout).toMatch(/\+0:09:0\d\.\d{3} {2}switch isp2 → isp1: isp1 is back and stable, up for 2m00s/);
    expect(stdout).toMatch(/switches +2\n/);
    expect(stdout).toMatch(/hooks that would have run +4 \(2 route changes × 2: 10-flush, 20-mail\)/);
  });

  it('--json: the same as a document', async () => {
    const { stdout } = await replay('-c', config, '--scenario', scenario, '--json');
    const report = JSON.parse(stdout);
    expect(report).toMatchObject({ config, policy: 'netgwm', start: 'isp1', hooks: ['10-flush', '20-mail'] });
    expect(report.switches.map((entry: { to: string }) => entry.to)).toEqual(['isp2', 'isp1']);
    expect(report.summary).toMatchObject({ switches: 2, hookRuns: 4 });
    expect(report.summary.deadSeconds).toBeLessThan(1.5);
  });

  it('--compare: both summaries side by side; --policy netgwm-classic', async () => {
    const { stdout } = await replay('-c', config, '--scenario', scenario, '--compare', other);
    expect(stdout).toMatch(new RegExp(`^ +${config} +${other}$`, 'm'));
    // With min_uptime 900 s, the route stays on isp2 until the end.
    expect(stdout).toMatch(/^ {2}switches +2 +1$/m);
    const classic = JSON.parse((await replay('-c', config, '--scenario', scenario, '--policy', 'netgwm-classic', '--json')).stdout);
    expect(classic.policy).toBe('netgwm-classic');
    expect(classic.summary.deadSeconds).toBeGreaterThan(30);
  });

  it('usage errors', async () => {
    await expect(replay('-c', config)).rejects.toThrow(new UsageError('replay: expected either --scenario FILE or --recorded FILE...'));
    await expect(replay('-c', config, '--scenario', scenario, '--recorded', 'x')).rejects.toThrow(UsageError);
    await expect(replay('-c', config, '--scenario', scenario, '--policy', 'mwan3')).rejects.toThrow(
      'replay: --policy: expected one of netgwm, netgwm-classic, got "mwan3"',
    );
    await expect(replay('-c', config, '--scenario', join(dir, 'none.yml'))).rejects.toThrow(
      /^replay: cannot read the scenario .*none\.yml/,
    );
  });

  it('a scenario naming what the config does not have: FILE: line N', async () => {
    const bad = join(dir, 'bad.yml');
    await writeFile(bad, 'duration: 1h\ngateways:\n  lte: {state: down}\n');
    const error = await replay('-c', config, '--scenario', bad).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      `${bad}: line 3: gateways: "lte" is not a gateway of the config; expected one of isp1, isp2`,
    ]);
  });

  it('a method site named by its key in a scenario: a dead tcp check with min_sites 3 takes isp1 down', async () => {
    const methods = join(dir, 'methods.yml');
    await writeFile(
      methods,
      `${configText(120).replace('check_sites: [192.0.2.53, 203.0.113.53]', 'check_sites: [192.0.2.53, 203.0.113.53, {tcp: 203.0.113.80:443}]')}probe: {min_sites: 3}\n`,
    );
    const dead = join(dir, 'tcp-dead.yml');
    await writeFile(dead, 'duration: 20m\nstart: isp1\nsites:\n  "tcp:203.0.113.80:443": [{for: 5m}, {for: 2m, state: down}]\n');
    const { code, stdout } = await replay('-c', methods, '--scenario', dead, '--interval', '60');
    expect(code).toBe(0);
    expect(stdout).toMatch(/\+0:05:00\.\d{3} {2}isp1 down \(was up\): at most 2\/3 sites answered in 3 rounds, min_sites is 3/);
  });

  it('--recorded: the recording reader (src/state/recording.ts) or, in a build without it, a clear error', async () => {
    await expect(replay('-c', config, '--recorded', join(dir, 'none.rec'))).rejects.toThrow(/no recording reader|none\.rec/);
  });

  it('--help', async () => {
    expect((await replay('--help')).stdout).toMatch(/^Usage: netgwm replay/);
  });
});
