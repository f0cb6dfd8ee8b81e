// post-replace.d in whole cycles: failing and hanging hooks, and hooks an interrupted cycle left.
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Harness, waitFor } from './harness.js';

let h: Harness;
const extraHooks: string[] = [];

beforeAll(async () => {
  h = await Harness.create();
});
afterAll(async () => {
  await h?.destroy();
});
afterEach(async () => {
  for (const hook of extraHooks.splice(0)) await rm(hook, { force: true });
  await h.net.exec(h.net.routerNs, 'ip', ['route', 'flush', 'table', 'main', 'default'], { reject: false });
  await rm(h.stateDir(), { recursive: true, force: true });
  await rm(h.logFile(), { force: true });
});

async function addHook(name: string, body: string): Promise<string> {
  const path = join(h.hooksDir(), name);
  await writeFile(path, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  extraHooks.push(path, `${path}.started`);
  return path;
}

describe('hooks in a cycle', () => {
  it('a failing and a hanging hook stop neither the hooks after them nor the next cycle, and are counted', async () => {
    await addHook('10-fails', 'echo "no modem" >&2; exit 3');
    await addHook('20-hangs', 'sleep 600');
    await h.writeConfig({ hook_timeout: 1 });
    const first = await h.run();
    expect(first.exitCode).toBe(0); // not after 600 s: the harness gives up on a run after 30 s
    const log = (await h.logLines()).join('\n');
    expect(log).toMatch(/WARN hook .*10-fails exited 3 in \d+\.\d\d s; stderr: no modem/);
    expect(log).toMatch(/WARN hook .*20-hangs killed after timeout in \d+\.\d\d s/);
    expect((await h.hookCalls()).at(-1)).toEqual({ event: 'start', args: ['isp1', '192.0.2.1', 'wan_1', 'NaN', 'NaN', 'NaN'] });
    const status = JSON.parse((await h.netgwm(['status', '--json'])).stdout) as { totals: { hook_failures: number } };
    expect(status.totals.hook_failures).toBe(2);
    expect((await h.run()).exitCode).toBe(0);
  });

  it('hooks a stopped daemon did not run are run by the next cycle, with the same arguments', async () => {
    // The first time it runs, this hook takes a minute: the daemon is stopped meanwhile.
    const slow = await addHook('10-slow', 'if [ -e "$0.started" ]; then exit 0; fi\ntouch "$0.started"\nsleep 60');
    const calls = (await h.hookCalls()).length;
    const daemon = h.daemon(['--interval', '60']);
    expect(await waitFor(() => existsSync(`${slow}.started`))).toBe(true);
    daemon.kill('SIGTERM');
    expect((await daemon).exitCode).toBe(0); // the test's timeout is the hang guard
    expect(await h.hookCalls()).toHaveLength(calls);

    const next = await h.run();
    expect(next.stderr).toMatch(/WARN running the 2 hook\(s\) of the switch to isp1 that an interrupted cycle did not run/);
    expect((await h.hookCalls()).slice(calls)).toEqual([{ event: 'start', args: ['isp1', '192.0.2.1', 'wan_1', 'NaN', 'NaN', 'NaN'] }]);
    // Done now: a further cycle runs no hook.
    expect((await h.run()).stderr).toBe('');
    expect(await h.hookCalls()).toHaveLength(calls + 1);
  });

  // An `ip` in front of the real one that kills its caller, netgwm, with SIGKILL once
  // `ip -4 route replace default …` in the main table succeeded: `now` before it even returns,
  // `next` at netgwm's next ip command (the check that the kernel uses the route), or DELAY
  // seconds later from the background — if netgwm is still that same process (same start time).
  const killingIp = (realIp: string, when: 'now' | 'next' | number) => `#!/bin/sh
marker="$(dirname "$0")/replaced"
if [ -e "$marker" ]; then rm -f "$marker"; kill -KILL $PPID; exit 1; fi
${realIp} "$@"
status=$?
case " $* " in *" table "*) ;; " -4 route replace default "*)
  [ $status -eq 0 ] && [ "$(cat /proc/$PPID/comm)" = node ] || exit $status
  started=$(cut -d' ' -f22 /proc/$PPID/stat)
  ${when === 'now' ? 'kill -KILL $PPID' : when === 'next' ? 'touch "$marker"' : `(sleep ${when}; [ "$(cut -d' ' -f22 /proc/$PPID/stat 2>/dev/null)" = "$started" ] && kill -KILL $PPID) &`} ;;
esac
exit $status`;

  it.each([
    { at: 'as ip returns', when: 'now' as const },
    { at: 'at its next ip command', when: 'next' as const },
    // From here the run may have ended before the kill: the hooks must have run all the same.
    { at: '10 ms later', when: 0.01 },
    { at: '30 ms later', when: 0.03 },
    { at: '100 ms later', when: 0.1 },
  ])(
    "a switch's route taken by the kernel, netgwm killed with -9 $at: the hooks run (by the next run), with the same six arguments",
    async ({ when }) => {
      const realIp = String((await h.net.exec(h.net.routerNs, 'sh', ['-c', 'command -v ip'])).stdout).trim();
      const wrapper = join(h.dir, `killing-ip-${String(when)}`);
      await mkdir(wrapper, { recursive: true });
      await writeFile(join(wrapper, 'ip'), killingIp(realIp, when), { mode: 0o755 });
      expect(await h.run()).toMatchObject({ exitCode: 0 });
      expect(await h.currentGateway()).toBe('isp1');
      await rm(join(h.hooksDir(), '50-record.calls'), { force: true });
      await h.net.failOperator(1);
      try {
        const killed = await h.netgwm(['run'], { env: { PATH: `${wrapper}:${process.env.PATH}` } });
        if (typeof when === 'string') expect(killed.exitCode).not.toBe(0); // killed, for sure
        expect(await h.currentGateway()).toBe('isp2');
        expect(await h.run()).toMatchObject({ exitCode: 0 });
      } finally {
        await h.net.restoreOperator(1);
      }
      // At least once (a kill in the middle of a hook runs it again), always the same arguments.
      const calls = await h.hookCalls();
      expect(calls.length).toBeGreaterThanOrEqual(1);
      for (const call of calls)
        expect(call).toEqual({ event: 'switch', args: ['isp2', '192.0.2.5', 'wan-2', 'isp1', '192.0.2.1', 'wan_1'] });
      expect((await h.logLines()).filter((line) => line.includes('route replaced to: via 192.0.2.5'))).not.toEqual([]);
      expect(JSON.parse(await readFile(join(h.stateDir(), 'state.json'), 'utf8'))).toMatchObject({
        lastSwitch: { from: 'isp1', to: 'isp2' },
        totals: { switches: 2 },
      });
    },
  );

  it('a hook printing 5 MiB runs to its end; hook names and output cannot forge a log line that history lists', async () => {
    const talkative = await addHook('60-talkative', 'head -c 5242880 /dev/zero | tr "\\0" x; echo; touch "$0.started"');
    const forgedLine = '2026-11-26 10:00:00.000 INFO route replaced to: via 192.0.2.99 (isp9, was isp1: forged)';
    await addHook(`70-x\n${forgedLine}`, 'exit 0');
    await addHook('71-y\nroute replaced to: via 192.0.2.99', 'exit 0');
    await addHook(
      '80-prints',
      `printf '\\n%s\\r\\033[2K%s\\n' '${forgedLine}' 'route replaced to: via 192.0.2.99 (isp9, was isp1: forged)'`,
    );

    expect((await h.run()).exitCode).toBe(0);
    expect(await h.currentGateway()).toBe('isp1');
    const lines = await h.logLines();
    expect(
      lines.every((line) => /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} (DEBUG|INFO|WARN|ERROR) /.test(line)),
      lines.join('\n'),
    ).toBe(true);
    expect(existsSync(`${talkative}.started`)).toBe(true); // not killed by SIGPIPE half-way
    expect(lines.join('\n')).toMatch(/INFO hook .*60-talkative exited 0 in \d+\.\d\d s; output \(5177345 earlier bytes dropped\): …x+$/m);
    expect(lines.join('\n')).toContain(`70-x\\n${forgedLine} exited 0`);
    expect(lines.join('\n')).toContain('\\r\\x1b[2Kroute replaced to');

    const history = JSON.parse((await h.netgwm(['history', '--json'])).stdout) as { entries: Array<{ kind: string; to: string }> };
    expect(history.entries.map((entry) => `${entry.kind} ${entry.to}`)).toEqual(['switch isp1']);
    expect((await h.netgwm(['history'])).stdout.trim().split('\n')).toHaveLength(1);
  });
});
