// What a local user could plant for root to run or overwrite: hooks someone else could have
// written are refused (logged once, with the fix), temporary files are never opened through a
// planted link, and a full disk leaves none behind.
import { chmod, chown, lstat, mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Harness, NETGWM } from './harness.js';

const NOBODY = 65534;
let h: Harness;

beforeAll(async () => {
  h = await Harness.create();
});
afterAll(async () => {
  await h?.destroy();
});
afterEach(async () => {
  await h.net.exec(h.net.routerNs, 'ip', ['route', 'flush', 'table', 'main', 'default'], { reject: false });
  await h.writeConfig({});
  await rm(h.stateDir(), { recursive: true, force: true });
  await rm(h.logFile(), { force: true });
});

/** A hook that leaves `FILE.ran` when it runs, with the owner and mode given. */
async function markingHook(path: string, mode: number, uid = 0): Promise<string> {
  await writeFile(path, '#!/bin/sh\ntouch "$0.ran"\n');
  await chmod(path, mode);
  await chown(path, uid, 0);
  return path;
}

const exists = (path: string) =>
  lstat(path).then(
    () => true,
    () => false,
  );

/** `netgwm run` in the router namespace, started by `sh -c SCRIPT` so that `$$` is netgwm's PID. */
async function runViaShell(before: string): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const script = `${before}\nip netns exec "$1" "$2" "$3" run -c "$4"; echo "exit $?"`;
  const result = await execa('sh', ['-c', script, 'sh', h.net.routerNs, process.execPath, NETGWM, h.configFile()], {
    reject: false,
    timeout: 60_000,
  });
  return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
}

describe('hooks someone else could have written', () => {
  const planted: string[] = [];
  afterEach(async () => {
    for (const path of planted.splice(0)) await rm(path, { recursive: true, force: true });
  });

  it('a hook owned by nobody, a 0777 hook and a link to a script nobody owns do not run; each is logged once, with the fix', async () => {
    const elsewhere = join(h.dir, 'elsewhere');
    await mkdir(elsewhere);
    const nobodys = await markingHook(join(h.hooksDir(), '20-nobodys'), 0o755, NOBODY);
    const loose = await markingHook(join(h.hooksDir(), '30-loose'), 0o777);
    const target = await markingHook(join(elsewhere, 'script'), 0o755, NOBODY);
    const link = join(h.hooksDir(), '40-link');
    await symlink(target, link);
    planted.push(nobodys, loose, link, elsewhere, `${nobodys}.ran`, `${loose}.ran`);

    const first = await h.run();
    expect(first.exitCode).toBe(0);
    expect(await h.currentGateway()).toBe('isp1');
    expect(await h.hookCalls()).toContainEqual({ event: 'start', args: ['isp1', '192.0.2.1', 'wan_1', 'NaN', 'NaN', 'NaN'] }); // the safe one ran
    for (const path of [nobodys, loose, target]) expect(await exists(`${path}.ran`), path).toBe(false);
    const refusals = first.stderr.split('\n').filter((line) => line.includes(' not run: '));
    expect(refusals).toEqual([
      expect.stringMatching(
        new RegExp(
          `ERROR hook ${nobodys} not run: it \\(${nobodys}\\) is owned by uid 65534, not by root; if you trust its content, run \`chown root ${nobodys}\`$`,
        ),
      ),
      expect.stringMatching(
        new RegExp(
          `ERROR hook ${loose} not run: it \\(${loose}\\) is writable by group and others \\(mode 0777\\); if you trust its content, run \`chmod go-w ${loose}\`$`,
        ),
      ),
      expect.stringMatching(
        new RegExp(
          `ERROR hook ${link} not run: the file it points to \\(${target}\\) is owned by uid 65534, not by root; if you trust its content, run \`chown root ${target}\`$`,
        ),
      ),
    ]);

    // Once: the next cycles (one with a switch) do not repeat it; they still do not run them.
    expect((await h.run()).stderr).toBe('');
    await h.net.failOperator(1);
    try {
      const failover = await h.run();
      expect(await h.currentGateway()).toBe('isp2');
      expect(failover.stderr).not.toMatch(/ not run: /);
    } finally {
      await h.net.restoreOperator(1);
    }
    for (const path of [nobodys, loose, target]) expect(await exists(`${path}.ran`), path).toBe(false);
  });

  it("no hook of a 1777 directory runs, not even root's own", async () => {
    const dir = join(h.dir, 'sticky.d');
    await mkdir(dir);
    await chmod(dir, 0o1777);
    const roots = await markingHook(join(dir, '10-roots'), 0o755);
    planted.push(dir);
    await h.writeConfig({ hooks_dir: dir });

    const run = await h.run();
    expect(run.exitCode).toBe(0);
    expect(await h.currentGateway()).toBe('isp1');
    expect(await exists(`${roots}.ran`)).toBe(false);
    expect(run.stderr).toContain(
      `ERROR hook ${roots} not run: the hooks directory (${dir}) is writable by group and others (mode 1777); if you trust its content, run \`chmod go-w ${dir}\``,
    );
  });
});

describe('temporary files', () => {
  it('a link planted at the old, predictable NAME.tmp-PID of the state, a status file and the metrics file is not followed', async () => {
    const victim = join(h.dir, 'victim');
    await writeFile(victim, 'root-owned and precious\n');
    const metricsFile = join(h.dir, 'metrics', 'netgwm.prom');
    await h.writeConfig({ metrics_file: metricsFile });
    const temporaries = [join(h.stateDir(), 'state.json'), join(h.statusDir(), 'isp1'), metricsFile];
    const plant = temporaries.map((file) => `mkdir -p "${join(file, '..')}" && ln -sf "${victim}" "${file}.tmp-$$"`).join('\n');
    try {
      const run = await runViaShell(plant);
      expect(run.stdout).toBe('exit 0');
      expect(run.stderr).toBe('');
      expect(await readFile(victim, 'utf8')).toBe('root-owned and precious\n');
      expect(JSON.parse(await readFile(temporaries[0]!, 'utf8'))).toMatchObject({ active: 'isp1' });
      expect(await readFile(temporaries[1]!, 'utf8')).toMatch(/^up:/);
      expect(await readFile(metricsFile, 'utf8')).toContain('netgwm_gateway_up{gateway="isp1",family="4"} 1');
    } finally {
      await rm(join(h.dir, 'metrics'), { recursive: true, force: true });
      await rm(h.statusDir(), { recursive: true, force: true });
    }
  });

  it('a full disk leaves no temporary file behind (a 64 KiB tmpfs, mounted only in a mount namespace of the test)', async () => {
    const full = join(h.dir, 'full');
    await mkdir(full);
    await h.writeConfig({
      state_dir: join(full, 'state'),
      status_dir: join(full, 'status'),
      metrics_file: join(full, 'metrics', 'netgwm.prom'),
    });
    // The mount exists only inside `unshare -m`; what is left on it is listed from inside.
    const mount = `mount -t tmpfs -o size=64k netgwm-test "${full}" || exit 1\nmkdir "${full}/state" "${full}/status" "${full}/metrics"\ncat /dev/zero > "${full}/fill" 2>/dev/null`;
    const result = await execa(
      'unshare',
      [
        '-m',
        '--propagation',
        'private',
        'sh',
        '-c',
        `${mount}\nip netns exec "$1" "$2" "$3" run -c "$4"; echo "exit $?"\nfind "${full}" -mindepth 1 | sort`,
        'sh',
        h.net.routerNs,
        process.execPath,
        NETGWM,
        h.configFile(),
      ],
      {
        reject: false,
        timeout: 60_000,
      },
    );
    const [exit, ...left] = String(result.stdout).split('\n');
    expect(exit).toBe('exit 0');
    expect(left.map((path) => path.slice(full.length + 1))).toEqual(['fill', 'metrics', 'state', 'status']);
    expect(await h.currentGateway()).toBe('isp1'); // the route moved all the same
    const log = (await h.logLines()).join('\n');
    expect(log).toMatch(/ERROR cannot save the state in .*ENOSPC/);
    expect(await readdir(full)).toEqual([]); // and nothing outside the namespace
  });
});
