// The built binary's command line: help, version, usage errors and exit codes.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { NETGWM } from './harness.js';
import { mkfifo } from '../support/fifo.js';
import { tempDir } from '../support/temp-dir.js';

// The timeout is a hang guard (a FIFO config used to wait forever), far above a run's 0.2 s.
async function netgwm(...args: string[]) {
  const result = await execa(process.execPath, [NETGWM, ...args], { reject: false, timeout: 20_000 });
  return { exitCode: result.exitCode, timedOut: result.timedOut, stdout: String(result.stdout), stderr: String(result.stderr) };
}

describe('netgwm command line', () => {
  it.each(['run', 'daemon', 'check-config', 'use', 'cleanup', 'replay', 'health', 'role', 'passwd'])(
    '%s --help explains the command',
    async (command) => {
      const result = await netgwm(command, '--help');
      expect(result).toMatchObject({ exitCode: 0, stderr: '' });
      expect(result.stdout).toMatch(new RegExp(`^Usage: netgwm ${command}`));
    },
  );

  it('--help lists the commands and the exit codes', async () => {
    const result = await netgwm('--help');
    expect(result.exitCode).toBe(0);
    for (const text of [
      'run ',
      'daemon ',
      'check-config ',
      'use NAME|auto',
      'cleanup ',
      '75  another netgwm cycle held the lock',
      '2   bad config',
    ])
      expect(result.stdout).toContain(text);
  });

  it('--version prints the package version', async () => {
    expect((await netgwm('--version')).stdout).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it.each([
    [['frobnicate'], /unknown command "frobnicate"/],
    // With a config that does not exist: whatever the order of the checks, no cycle can run here.
    [['run', '--bogus', '-c', '/nonexistent/netgwm.yml'], /Unknown option '--bogus'/],
    [['run', '--interval', '5', '-c', '/nonexistent/netgwm.yml'], /--interval is an option of `netgwm daemon`/],
    [['run', '--wait', 'soon', '-c', '/nonexistent/netgwm.yml'], /--wait: expected a number of seconds, got "soon"/],
    // Node's timers fire at once beyond 2^31-1 ms.
    [
      ['run', '--wait', '3000000', '-c', '/nonexistent/netgwm.yml'],
      /--wait: expected at most 2147483 seconds \(24\.8 days\), got "3000000"/,
    ],
  ])('usage error %j exits 2', async (args, message) => {
    const result = await netgwm(...args);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).toMatch(/Try 'netgwm --help'/);
  });

  it('check-config prints the effective config, or every problem with exit 2', async () => {
    const dir = await tempDir('cli');
    const file = join(dir, 'netgwm.yml');
    await writeFile(
      file,
      'gateways:\n  isp1: {ip: 192.0.2.1, priority: 1}\n  lte: {dev: ppp0, priority: 2}\ncheck_sites: [198.51.100.1]\ncheck_table: 194\n',
    );
    const good = await netgwm('check-config', '-c', file);
    expect(good.exitCode).toBe(0);
    expect(good.stdout).toContain('isp1:\n    ip: 192.0.2.1\n    priority: 1');
    expect(good.stdout).toContain('lte:\n    ip: auto\n    dev: ppp0\n    priority: 2');
    expect(good.stdout).toContain(`hooks_dir: ${join(dir, 'post-replace.d')}`);
    expect(good.stdout).toContain('mark: "0x4e470000"');
    expect(good.stdout).toContain('probe_path: mark 0x4e470001, table 195');
    await writeFile(
      file,
      'gateways:\n  isp1: {ip: 192.0.2.1, priority: 1}\n  isp2: {dev: ppp0, priority: 1}\ncheck_sites: [198.51.100.1]\ncheck_table: 194\n',
    );
    const bad = await netgwm('check-config', '-c', file);
    expect(bad).toEqual({
      exitCode: 2,
      timedOut: false,
      stdout: '',
      stderr: `${file}: gateways.isp2.priority: priority 1 is also used by gateway "isp1"; give every gateway its own priority, or give both a weight to balance connections over them`,
    });
  });

  it.each([
    [
      'an alias bomb',
      `a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n`,
      ': line 2, column 8: YAML alias error: the aliases expand to more than 100 copies; write the values out instead',
    ],
    [
      'an undefined alias',
      'gateways: *gateways\n',
      ': line 1, column 11: YAML alias error: *gateways names no anchor before it; define &gateways first',
    ],
    ['a FIFO', undefined, ': cannot read the config file: it is a FIFO, not a regular file'],
  ])('check-config with %s as config: exit 2 with the file and where, no stack trace, no wait', async (_, yaml, problem) => {
    const file = join(await tempDir('cli'), 'netgwm.yml');
    if (yaml === undefined) await mkfifo(file);
    else await writeFile(file, yaml);
    const result = await netgwm('check-config', '-c', file);
    expect(result).toEqual({ exitCode: 2, timedOut: false, stdout: '', stderr: `${file}${problem}` });
  });

  it('daemon --interval beyond what a timer can wait is exit 2 before anything runs', async () => {
    const file = join(await tempDir('cli'), 'netgwm.yml');
    await writeFile(
      file,
      'gateways:\n  isp1: {ip: 192.0.2.1, priority: 1}\ncheck_sites: [198.51.100.1]\ncheck_table: 194\nlog_file: /dev/null\n',
    );
    const result = await netgwm('daemon', '--interval', '3000000', '-c', file);
    expect(result).toMatchObject({ exitCode: 2, timedOut: false, stdout: '' });
    expect(result.stderr).toMatch(/^netgwm: --interval: expected at most 2147483 seconds \(24\.8 days\), got "3000000"/);
  });

  it('a missing config file is exit 2 with its path', async () => {
    const result = await netgwm('run', '-c', '/nonexistent/netgwm.yml');
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/^\/nonexistent\/netgwm\.yml: cannot read the config file: ENOENT/);
  });
});
