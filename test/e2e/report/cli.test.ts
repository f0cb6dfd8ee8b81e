// `netgwm status` and `netgwm history` as the built binary runs them: help, usage errors, no state,
// an unusable state, the JSON schema version, a TTY with and without NO_COLOR, rotated logs.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { localTime } from '../../../src/log/time.js';
import { fakeClockEnv, NETGWM } from '../harness.js';
import { tempDir } from '../../support/temp-dir.js';

let dir: string;
let config: string;

async function netgwm(args: string[], env: Record<string, string> = {}) {
  const result = await execa(process.execPath, [NETGWM, ...args], { reject: false, env: { NO_COLOR: '', ...env } });
  return { exitCode: result.exitCode, stdout: String(result.stdout), stderr: String(result.stderr) };
}

beforeAll(async () => {
  dir = await tempDir('report-cli');
  config = join(dir, 'netgwm.yml');
  const lines = [
    `gateways:\n  isp1: {ip: 192.0.2.1, priority: 1}\n  isp2: {ip: 192.0.2.5, priority: 2}`,
    'check_sites: [198.51.100.1]',
    'check_table: 194',
  ];
  await writeFile(
    config,
    `${[
      ...lines,
      `state_dir: ${join(dir, 'state')}`,
      `log_file: ${join(dir, 'log', 'netgwm.log')}`,
      `status_dir: ${join(dir, 'status')}`,
    ].join('\n')}\n`,
  );
});

describe('netgwm status / history: command line', () => {
  it.each(['status', 'history'])('%s --help explains the command; netgwm --help lists it', async (command) => {
    const help = await netgwm([command, '--help']);
    expect(help).toMatchObject({ exitCode: 0, stderr: '' });
    expect(help.stdout).toMatch(new RegExp(`^Usage: netgwm ${command}`));
    expect((await netgwm(['--help'])).stdout).toMatch(new RegExp(`^  ${command} +\\S`, 'm'));
  });

  it.each([
    [['status', '-n', '5'], /-n\/--lines is an option of `netgwm history`/],
    [['history', '-n', '0'], /-n: expected a whole number from 1 to 10000, got "0"/],
    [['status', '--bogus'], /Unknown option '--bogus'/],
  ])('usage error %j exits 2', async (args, message) => {
    const result = await netgwm([...args, '-c', config]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(message);
  });

  it('with no state yet: says so plainly, exit 0; --json has schema_version and has_state false', async () => {
    const text = await netgwm(['status', '-c', config]);
    expect(text).toEqual({
      exitCode: 0,
      stderr: '',
      stdout: `No status yet: ${join(dir, 'state', 'state.json')} does not exist yet.\nnetgwm records what it sees when a cycle ends; run \`netgwm run\` or start the daemon, then ask again.`,
    });
    const json = JSON.parse((await netgwm(['status', '--json', '-c', config])).stdout);
    expect(json).toMatchObject({
      schema_version: 1,
      has_state: false,
      active: null,
      gateways: [
        { name: 'isp1', state: 'unknown' },
        { name: 'isp2', state: 'unknown' },
      ],
    });
  });

  it('an unusable state file: says why, exit 1', async () => {
    await mkdir(join(dir, 'state'), { recursive: true });
    await writeFile(join(dir, 'state', 'state.json'), '{"version": 1, "gatew');
    const result = await netgwm(['status', '-c', config]);
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toMatch(/^No status yet: the state file .*state\.json is unusable \(not JSON: /);
  });

  it('colours on a terminal only, and never with NO_COLOR', async () => {
    const now = Date.now();
    await writeFile(
      join(dir, 'state', 'state.json'),
      JSON.stringify({
        version: 1,
        lastCycleAt: now,
        active: 'isp1',
        gateways: { isp1: { up: true, since: now, checkedAt: now } },
        resolved: {},
      }),
    );
    expect((await netgwm(['status', '-c', config])).stdout).not.toMatch(/\x1b\[/);
    // script(1) gives the command a pseudo-terminal as stdout.
    const onTty = async (env: Record<string, string>) =>
      String(
        (
          await execa('script', ['-qec', `${process.execPath} ${NETGWM} status -c ${config}`, '/dev/null'], {
            reject: false,
            env: { NO_COLOR: '', ...env },
          })
        ).stdout,
      );
    expect(await onTty({})).toMatch(/\x1b\[32mup\x1b\[0m/);
    expect(await onTty({ NO_COLOR: '1' })).not.toMatch(/\x1b\[/);
  });

  it('history lists the switches of a log rotated once and compressed once, oldest first', async () => {
    // netgwm runs on a stopped clock, so that "for 10m00s so far" is exact.
    const now = '2026-11-26 10:00:00';
    const t = (minutesAgo: number) => localTime(new Date(new Date(now.replace(' ', 'T')).getTime() - minutesAgo * 60_000));
    const logDir = join(dir, 'log');
    await mkdir(logDir, { recursive: true });
    await writeFile(
      join(logDir, 'netgwm.log.2.gz'),
      gzipSync(`${t(50)} INFO route replaced to: via 192.0.2.1 (isp1, was none: no current gateway)\n`),
    );
    await writeFile(
      join(logDir, 'netgwm.log.1'),
      `${t(40)} INFO route replaced to: via 192.0.2.5 (isp2, was isp1: isp1 down, 0/1 sites answered)\n`,
    );
    await writeFile(
      join(logDir, 'netgwm.log'),
      `${t(10)} INFO route replaced to: via 192.0.2.1 (isp1, was isp2: isp1 is back and stable, up for 15m00s)\n`,
    );
    const text = await netgwm(['history', '-c', config], fakeClockEnv({ at: now }));
    expect(text.exitCode).toBe(0);
    expect(text.stdout.split('\n')).toEqual([
      expect.stringMatching(/ switch {4}none -> isp1 \(on isp1 for 10m00s\): no current gateway$/),
      expect.stringMatching(/ switch {4}isp1 -> isp2 \(on isp2 for 30m00s\): isp1 down, 0\/1 sites answered$/),
      expect.stringMatching(/ switch {4}isp2 -> isp1 \(on isp1 for 10m00s so far\): isp1 is back and stable, up for 15m00s$/),
    ]);
    const json = JSON.parse((await netgwm(['history', '--json', '-n', '2', '-c', config])).stdout);
    expect(json.schema_version).toBe(1);
    expect(json.entries.map((entry: { source: string }) => entry.source)).toEqual(['netgwm.log.1', 'netgwm.log']);
  });
});
