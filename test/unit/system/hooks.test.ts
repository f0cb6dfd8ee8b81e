import { readFile, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lineOf } from '../../../src/log/events.js';
import { hookArguments, hookEnvironment, runHook } from '../../../src/system/hooks.js';
import { tempDir } from '../../support/temp-dir.js';

const isp1 = { name: 'isp1', ip: '192.0.2.1', dev: 'wan_1' };
const lte = { name: 'lte', dev: 'ppp0' };

describe('hookArguments', () => {
  it.each([
    ['a switch', isp1, lte, ['isp1', '192.0.2.1', 'wan_1', 'lte', 'NaN', 'ppp0']],
    ['the first start: old unknown, NaN also as argument 4', lte, undefined, ['lte', 'NaN', 'ppp0', 'NaN', 'NaN', 'NaN']],
  ])('%s', (_, next, previous, expected) => expect(hookArguments(next, previous)).toEqual(expected));

  it('puts the same values and the event in a fixed environment', () => {
    const env = hookEnvironment(isp1, lte, 'lte down');
    expect(env).toMatchObject({
      NETGWM_EVENT: 'switch',
      NETGWM_NEW_NAME: 'isp1',
      NETGWM_NEW_IP: '192.0.2.1',
      NETGWM_NEW_DEV: 'wan_1',
      NETGWM_OLD_NAME: 'lte',
      NETGWM_OLD_IP: 'NaN',
      NETGWM_OLD_DEV: 'ppp0',
      NETGWM_REASON: 'lte down',
    });
    expect(hookEnvironment(isp1, undefined, 'start').NETGWM_EVENT).toBe('start');
    expect(
      Object.keys(env)
        .filter((key) => !key.startsWith('NETGWM_'))
        .sort(),
    ).toEqual(['HOME', 'LANG', 'LOGNAME', 'PATH', 'SHELL', 'USER']);
  });
});

describe('hookEnvironment: what cron gives a job, whatever started netgwm', () => {
  const user = userInfo();

  it("names the user as cron does, with cron's shell, a PATH with sbin and /usr/local, and LANG", () => {
    const env = hookEnvironment(isp1, lte, 'lte down', { LANG: 'de_DE.UTF-8' });
    expect(env).toMatchObject({ HOME: user.homedir, LOGNAME: user.username, USER: user.username, SHELL: '/bin/sh', LANG: 'de_DE.UTF-8' });
    expect(env.PATH!.split(':')).toEqual(
      expect.arrayContaining(['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin']),
    );
  });

  it('passes TZ only when it is set, and LANG C.UTF-8 when it is not', () => {
    expect(hookEnvironment(isp1, lte, 'r', { TZ: 'Europe/Berlin' }).TZ).toBe('Europe/Berlin');
    const bare = hookEnvironment(isp1, lte, 'r', {});
    expect(bare).not.toHaveProperty('TZ');
    expect(bare.LANG).toBe('C.UTF-8');
  });

  it("inherits nothing else: not systemd's variables, not the caller's HOME", () => {
    const systemd = {
      INVOCATION_ID: 'x',
      JOURNAL_STREAM: '8:1',
      NOTIFY_SOCKET: '/run/n',
      HOME: '/nonexistent',
      SHELL: '/bin/zsh',
      NODE_OPTIONS: '--inspect',
    };
    const env = hookEnvironment(isp1, lte, 'r', systemd);
    expect(env).toEqual(hookEnvironment(isp1, lte, 'r', {}));
    expect(env.HOME).toBe(user.homedir);
  });

  it('is what a hook sees, exactly', async () => {
    // Not a shell script: sh adds PWD of its own. Node adds nothing.
    const path = join(await tempDir('hook-env'), 'hook');
    await writeFile(
      path,
      `#!${process.execPath}\nrequire('node:fs').writeFileSync(process.argv[1] + '.env', JSON.stringify(process.env));\n`,
      { mode: 0o755 },
    );
    const env = hookEnvironment(isp1, lte, 'lte down', { LANG: 'C.UTF-8', TZ: 'UTC' });
    expect(await runHook(path, [], env, 10_000)).toMatchObject({ exitCode: 0, stderrTail: '' });
    expect(JSON.parse(await readFile(`${path}.env`, 'utf8'))).toEqual(env);
  });
});

describe('runHook', () => {
  async function hook(body: string): Promise<string> {
    const dir = await tempDir('hook');
    const path = join(dir, 'hook');
    await writeFile(path, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
    return path;
  }

  it('passes arguments without a shell and reports exit code and output tails', async () => {
    const result = await runHook(
      await hook('printf "%s|" "$@"; echo oops >&2; exit 3'),
      ['a b', '$HOME', ';ls'],
      { PATH: '/usr/bin:/bin' },
      5000,
    );
    expect(result).toMatchObject({ exitCode: 3, timedOut: false, stdoutTail: 'a b|$HOME|;ls|', stderrTail: 'oops' });
  });

  it('returns when the hook exits, even if something it started in a new session holds its output', async () => {
    const path = await hook('setsid sleep 600 & echo $! > "$0.child"\necho done');
    try {
      // The hook's timeout is 10 min, as long as the sleeper: waiting for the output to close
      // would time this test out instead of returning with exit code 0.
      const result = await runHook(path, [], { PATH: '/usr/bin:/bin' }, 600_000);
      expect(result).toMatchObject({ exitCode: 0, timedOut: false, stdoutTail: 'done' });
    } finally {
      process.kill(Number(await readFile(`${path}.child`, 'utf8')), 'SIGKILL');
    }
  });

  it("reads a hook's output to the end however long, keeps its last 64 KiB and says how much it dropped", async () => {
    // 5 MiB on stdout and on stderr: neither blocks the hook nor kills it with SIGPIPE.
    const path = await hook(
      'head -c 5242880 /dev/zero | tr "\\0" x; echo; echo "the end"\nhead -c 5242880 /dev/zero >&2; echo "stderr end" >&2\ntouch "$0.finished"',
    );
    const result = await runHook(path, [], { PATH: '/usr/bin:/bin' }, 60_000);
    expect(result).toMatchObject({ exitCode: 0, timedOut: false, stdoutDropped: 5242889 - 65536, stderrDropped: 5242891 - 65536 });
    expect(result.signal).toBeUndefined();
    expect(result.stdoutTail).toMatch(/^…x+ \| the end$/);
    expect(await readFile(`${path}.finished`, 'utf8')).toBe('');
    expect(lineOf({ kind: 'hook-finished', ...result })).toMatch(
      /exited 0 in \d+\.\d\d s; output \(5177353 earlier bytes dropped\): …x+ \| the end; stderr \(5177355 earlier bytes dropped\): …/,
    );
  });

  it('kills a hanging hook and what it started after the timeout', async () => {
    const path = await hook('sleep 600 & echo $! > "$0.child"; sleep 600');
    const result = await runHook(path, [], { PATH: '/usr/bin:/bin' }, 300);
    expect(result.timedOut).toBe(true);
    const child = Number(await readFile(`${path}.child`, 'utf8'));
    // The group gets SIGKILL 1 s after SIGTERM: then it is gone, or a zombie waiting for init.
    const gone = async () =>
      ['gone', 'Z'].includes(
        await readFile(`/proc/${child}/stat`, 'utf8').then(
          (stat) => stat.split(') ')[1]![0]!,
          () => 'gone',
        ),
      );
    let polls = 0;
    while (!(await gone()) && polls++ < 400) await new Promise((done) => setTimeout(done, 50));
    expect(await gone()).toBe(true);
  });
});
