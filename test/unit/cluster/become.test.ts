// `netgwm role` with its ports faked: the commands it runs, in order, and the hooks, per transition.
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { becomeRole } from '../../../src/cluster/become.js';
import { compileConfig } from '../../../src/config/load.js';
import type { Role } from '../../../src/core/cluster.js';
import { createLogger } from '../../../src/log/logger.js';
import { acquireLock } from '../../../src/system/lock.js';
import { tempDir } from '../../support/temp-dir.js';
import { fakeExec } from '../system/fake-exec.js';

const ROUTE = JSON.stringify([{ dst: 'default', gateway: '192.0.2.1', dev: 'wan1', flags: [] }]);

async function router(options: { conntrackd: boolean; was?: Role; failing?: string[] }) {
  const dir = await tempDir('role');
  const hooksDir = join(dir, 'post-replace.d');
  await mkdir(hooksDir);
  await writeFile(join(hooksDir, '50-env'), `#!/bin/sh\necho "$NETGWM_EVENT $NETGWM_ROLE $*" >> ${join(dir, 'calls')}\n`, { mode: 0o755 });
  const config = await compileConfig(
    {
      gateways: { isp1: { ip: '192.0.2.1', dev: 'wan1', priority: 1 }, isp2: { ip: '198.51.100.1', priority: 2 } },
      check_sites: ['203.0.113.10'],
      check_table: 194,
      state_dir: join(dir, 'state'),
      log_file: join(dir, 'netgwm.log'),
      hooks_dir: hooksDir,
      cluster: { conntrackd: options.conntrackd, conntrackd_config: '/etc/ct.conf' },
    },
    join(dir, 'netgwm.yml'),
  );
  if (options.was) {
    await mkdir(join(dir, 'state'));
    await writeFile(join(dir, 'state', 'role'), `${options.was}\n`);
  }
  const exec = fakeExec((argv) => {
    if (argv[0] === 'ip') return { stdout: ROUTE };
    return options.failing?.includes(argv.at(-1)!) ? { exitCode: 1, stderr: 'conntrackd: cannot connect to the socket' } : undefined;
  });
  const lines: string[] = [];
  const log = createLogger([{ to: { write: (line: string) => lines.push(line.trim()) }, level: 'debug', format: 'text' }]);
  const locks: string[] = [];
  const lock = async () => {
    locks.push('taken');
    return { release: async () => void locks.push('released') };
  };
  const roleLocks: string[] = [];
  const roleLock = async () => {
    roleLocks.push(`taken before ${exec.calls.length} commands`);
    return { release: async () => void roleLocks.push(`released after ${exec.calls.length} commands`) };
  };
  return { dir, config, exec, log, lines, lock, locks, roleLock, roleLocks };
}

describe('becomeRole', () => {
  it.each<[string, { conntrackd: boolean; was?: Role }, Role, string[], string[]]>([
    [
      'backup -> master, conntrackd',
      { conntrackd: true, was: 'backup' },
      'master',
      ['-c', '-f', '-R', '-B'],
      ['role master isp1 192.0.2.1 wan1 NaN NaN NaN'],
    ],
    ['no role yet -> master', { conntrackd: true }, 'master', ['-c', '-f', '-R', '-B'], ['role master isp1 192.0.2.1 wan1 NaN NaN NaN']],
    [
      'master -> master (keepalived reloaded): no second announcement',
      { conntrackd: true, was: 'master' },
      'master',
      ['-c', '-f', '-R', '-B'],
      [],
    ],
    ['master -> backup', { conntrackd: true, was: 'master' }, 'backup', ['-t', '-n'], []],
    ['backup -> fault', { conntrackd: true, was: 'backup' }, 'fault', ['-t'], []],
    ['without conntrackd', { conntrackd: false, was: 'backup' }, 'master', [], ['role master isp1 192.0.2.1 wan1 NaN NaN NaN']],
  ])('%s', async (_name, setup, role, flags, hookCalls) => {
    const r = await router(setup);
    const outcome = await becomeRole(r.config, role, r);
    expect(r.exec.calls.filter(({ argv }) => argv[0] === 'conntrackd').map(({ argv }) => argv)).toEqual(
      flags.map((flag) => ['conntrackd', '-C', '/etc/ct.conf', flag]),
    );
    expect(
      await readFile(join(r.dir, 'calls'), 'utf8').then(
        (text) => text.split('\n').filter(Boolean),
        () => [],
      ),
    ).toEqual(hookCalls);
    expect(outcome).toEqual({ conntrackdFailed: [], hooksRun: hookCalls.length });
    expect(await readFile(join(r.dir, 'state', 'role'), 'utf8')).toBe(`${role}\n`);
    expect((await stat(join(r.dir, 'state', 'role'))).mode & 0o777).toBe(0o600);
    // The hooks run under the cycle lock, and only then; conntrackd under the role lock.
    expect(r.locks).toEqual(hookCalls.length > 0 ? ['taken', 'released'] : []);
    expect(r.roleLocks).toEqual(['taken before 0 commands', `released after ${flags.length} commands`]);
  });

  it('two overlapping calls (keepalived does not wait for a notify) run their conntrackd steps one after the other', async () => {
    const r = await router({ conntrackd: true, was: 'backup' });
    const lockDir = join(r.dir, 'lock');
    const steps: string[] = [];
    // Each conntrackd step yields to the event loop between its start and its end, as the real one does.
    const exec = async (file: string, args: string[]) => {
      if (file !== 'conntrackd') return r.exec(file, args);
      steps.push(`start ${args.at(-1)}`);
      await new Promise((resolve) => setImmediate(resolve));
      steps.push(`end ${args.at(-1)}`);
      return { stdout: '', stderr: '', exitCode: 0 };
    };
    const deps = { ...r, exec, roleLock: () => acquireLock({ waitMs: 60_000, dir: lockDir, name: 'role' }) };
    await Promise.all([becomeRole(r.config, 'master', deps), becomeRole(r.config, 'backup', deps)]);
    const sequences = [
      ['-c', '-f', '-R', '-B'],
      ['-t', '-n'],
    ].map((flags) => flags.flatMap((flag) => [`start ${flag}`, `end ${flag}`]));
    expect([sequences[0]!.concat(sequences[1]!), sequences[1]!.concat(sequences[0]!)]).toContainEqual(steps);
  });

  it('a failed conntrackd step is logged and the others still run, then the hooks', async () => {
    const r = await router({ conntrackd: true, was: 'backup', failing: ['-c'] });
    const outcome = await becomeRole(r.config, 'master', r);
    expect(r.exec.calls.filter(({ argv }) => argv[0] === 'conntrackd').map(({ argv }) => argv.at(-1))).toEqual(['-c', '-f', '-R', '-B']);
    expect(outcome).toEqual({ conntrackdFailed: ['-c'], hooksRun: 1 });
    expect(r.lines.join('\n')).toMatch(
      /ERROR conntrackd -c \(commit the external cache \(the peer synced connections\) into the kernel table\) failed: conntrackd: cannot connect to the socket/,
    );
  });

  it('no default route through a gateway: nothing to announce', async () => {
    const r = await router({ conntrackd: false, was: 'backup' });
    const exec = fakeExec((argv) => (argv[0] === 'ip' ? { stdout: '[]' } : undefined));
    expect(await becomeRole(r.config, 'master', { ...r, exec })).toEqual({ conntrackdFailed: [], hooksRun: 0 });
    expect(r.lines.join('\n')).toMatch(/became master, but the default route uses none of the gateways/);
  });
});
