// The shipped keepalived notify script (examples/ha/netgwm-notify), run for real with a fixture
// netgwm: in argument mode one that prints the arguments it got.
import { open, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { mkfifo } from '../../support/fifo.js';
import { tempDir } from '../../support/temp-dir.js';

const NOTIFY = fileURLToPath(new URL('../../../examples/ha/netgwm-notify', import.meta.url));
let fakeNetgwm: string;

beforeAll(async () => {
  fakeNetgwm = join(await tempDir('notify'), 'netgwm');
  await writeFile(fakeNetgwm, '#!/bin/sh\necho "$@"\n', { mode: 0o755 });
});

describe('netgwm-notify', () => {
  it.each([
    ['MASTER', 'role master -c /etc/netgwm/ha.yml'],
    ['BACKUP', 'role backup -c /etc/netgwm/ha.yml'],
    ['STOP', 'role backup -c /etc/netgwm/ha.yml'],
    ['FAULT', 'role fault -c /etc/netgwm/ha.yml'],
  ])('keepalived state %s: netgwm %s', async (state, called) => {
    const result = await execa(NOTIFY, ['--netgwm', fakeNetgwm, '-c', '/etc/netgwm/ha.yml', 'INSTANCE', 'netgwm_lan', state, '150']);
    expect(result.stdout).toBe(called);
  });

  it('the default config path', async () => {
    expect((await execa(NOTIFY, ['--netgwm', fakeNetgwm, 'GROUP', 'lan', 'MASTER'])).stdout).toBe('role master -c /etc/netgwm/netgwm.yml');
  });

  it('an unknown state is exit 2 and a message', async () => {
    const result = await execa(NOTIFY, ['--netgwm', fakeNetgwm, 'INSTANCE', 'netgwm_lan', 'DELETED'], { reject: false });
    expect(result).toMatchObject({
      exitCode: 2,
      stdout: '',
      stderr: "netgwm-notify: unknown keepalived state 'DELETED'; expected MASTER, BACKUP, FAULT or STOP",
    });
  });
});

// FIFO mode, as keepalived's vrrp_notify_fifo_script: a real FIFO, and a stand-in netgwm that
// records each call's role and marks overlapping calls (a second call finding the first's marker).
describe('netgwm-notify --fifo', () => {
  let dir: string;
  let fifo: string;
  let recorder: string;

  beforeEach(async () => {
    dir = await tempDir('notify-fifo');
    fifo = join(dir, 'notify.fifo');
    await mkfifo(fifo);
    recorder = join(dir, 'netgwm');
    await writeFile(
      recorder,
      `#!/bin/sh
mkdir ${dir}/running 2>/dev/null || echo overlap >> ${dir}/calls
echo "$2" >> ${dir}/calls
# Stay a moment, so that a call started meanwhile would find the marker; while ${dir}/hold
# exists, longer (bounded).
i=0
while [ $i -lt 600 ] && { [ $i -eq 0 ] || [ -e ${dir}/hold ]; }; do sleep 0.05; i=$((i + 1)); done
rmdir ${dir}/running 2>/dev/null
echo "$2" >> ${dir}/finished
[ "$2" != fault ] || { echo "netgwm: conntrackd -t failed" >&2; exit 1; }
`,
      { mode: 0o755 },
    );
  });

  const calls = async () => (await readFile(join(dir, 'calls'), 'utf8').catch(() => '')).split('\n').filter(Boolean);
  const start = (...extra: string[]) =>
    execa(NOTIFY, ['--netgwm', recorder, '-c', '/etc/netgwm/ha.yml', '--instance', 'netgwm_lan', ...extra, '--fifo', fifo], {
      reject: false,
    });

  /** keepalived's side: opens the FIFO for writing (once the script has it open for reading). */
  const writer = () => open(fifo, 'w');
  /** The script's last message when it ends by itself: the FIFO closed, or still open 2 s after SIGTERM. */
  const closedEnd = (pid: number | undefined) =>
    `netgwm-notify: keepalived closed ${fifo} (a reload starts a new copy): ending (PID ${pid})`;
  const deadlineEnd = (pid: number | undefined) => `netgwm-notify: ${fifo} still open 2 s after SIGTERM: ending (PID ${pid})`;

  it('many changes written at once: one netgwm role per change of the instance, in that order, never two at a time', async () => {
    const states = Array.from({ length: 40 }, (_, i) => ['MASTER', 'BACKUP', 'STOP', 'BACKUP', 'MASTER'][i % 5]!);
    const notify = start();
    const keepalived = await writer();
    // Other instances' and groups' changes come through the same FIFO.
    await keepalived.write(
      states
        .map((state, i) => `INSTANCE "netgwm_lan" ${state} 150\nINSTANCE "other" MASTER ${i}\nGROUP "netgwm_lan_group" FAULT\n`)
        .join(''),
    );
    await keepalived.close();
    const result = await notify;
    expect(result).toMatchObject({ exitCode: 0, stdout: '', stderr: closedEnd(notify.pid) });
    expect(await calls()).toEqual(states.map((state) => (state === 'MASTER' ? 'master' : 'backup')));
  });

  it('an unknown state, a line of another kind and a failed netgwm role are logged and the next change is applied', async () => {
    const notify = start();
    const keepalived = await writer();
    await keepalived.write(
      [
        'INSTANCE "netgwm_lan" DELETED 150',
        'VS [192.0.2.4]:tcp:80 UP',
        'INSTANCE "netgwm_lan" FAULT 150',
        'INSTANCE "netgwm_lan" MASTER 150',
        '',
      ].join('\n'),
    );
    await keepalived.close();
    const result = await notify;
    expect(result.exitCode).toBe(0);
    expect(result.stderr.split('\n')).toEqual([
      `netgwm-notify: ignoring INSTANCE "netgwm_lan"'s unknown state 'DELETED'; expected MASTER, BACKUP, FAULT or STOP`,
      `netgwm-notify: ignoring the line 'VS [192.0.2.4]:tcp:80 UP': expected INSTANCE or GROUP, a name, a state`,
      'netgwm: conntrackd -t failed',
      "netgwm-notify: netgwm role fault -c /etc/netgwm/ha.yml failed (exit 1); see netgwm's log. Reading the next change",
      closedEnd(notify.pid),
    ]);
    expect(await calls()).toEqual(['fault', 'master']);
  });

  it("--log: the messages and netgwm's output go to the file, each message with its time", async () => {
    const log = join(dir, 'notify.log');
    const notify = start('--log', log);
    const keepalived = await writer();
    await keepalived.write('INSTANCE "netgwm_lan" FAULT 150\n');
    await keepalived.close();
    expect(await notify).toMatchObject({ exitCode: 0, stdout: '', stderr: '' });
    expect((await readFile(log, 'utf8')).split('\n')).toEqual([
      'netgwm: conntrackd -t failed',
      expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d netgwm-notify: netgwm role fault -c \/etc\/netgwm\/ha.yml failed \(exit 1\)/),
      expect.stringMatching(
        new RegExp(`^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d netgwm-notify: keepalived closed .*: ending \\(PID ${notify.pid}\\)$`),
      ),
      '',
    ]);
  });

  it('SIGTERM (keepalived stopping): the STOP written after it is still applied, then the script ends at its deadline though the FIFO stays open, and says so', async () => {
    const notify = start();
    const keepalived = await writer();
    try {
      await keepalived.write('INSTANCE "netgwm_lan" MASTER 150\n');
      await vi.waitFor(async () => expect(await calls()).toEqual(['master']), { timeout: 30_000, interval: 50 });
      notify.kill('SIGTERM');
      await keepalived.write('INSTANCE "netgwm_lan" STOP 150\n');
      expect(await notify).toMatchObject({ exitCode: 0, isTerminated: false, stderr: deadlineEnd(notify.pid) });
    } finally {
      await keepalived.close();
    }
    expect(await calls()).toEqual(['master', 'backup']);
  });

  it("keepalived's kill of the script's process group (on reload or stop) does not cut the netgwm role call short", async () => {
    const hold = join(dir, 'hold');
    await writeFile(hold, '');
    // A process group of its own, as keepalived starts it; the output in a file, so that waiting
    // for the killed script does not wait for the call's end too.
    const notify = execa(NOTIFY, ['--netgwm', recorder, '--instance', 'netgwm_lan', '--log', join(dir, 'notify.log'), '--fifo', fifo], {
      reject: false,
      detached: true,
    });
    const keepalived = await writer();
    try {
      await keepalived.write('INSTANCE "netgwm_lan" STOP 150\n');
      await vi.waitFor(async () => expect(await calls()).toEqual(['backup']), { timeout: 30_000, interval: 50 });
      process.kill(-notify.pid!, 'SIGKILL');
      expect(await notify).toMatchObject({ signal: 'SIGKILL' });
      await rm(hold);
      const finished = async () => (await readFile(join(dir, 'finished'), 'utf8').catch(() => '')).split('\n').filter(Boolean);
      await vi.waitFor(async () => expect(await finished()).toEqual(['backup']), { timeout: 30_000, interval: 50 });
    } finally {
      await keepalived.close();
    }
  });

  it('SIGTERM then the FIFO closed (keepalived reloading): the script ends by itself and says so', async () => {
    const notify = start();
    const keepalived = await writer();
    await keepalived.write('INSTANCE "netgwm_lan" BACKUP 100\n');
    await vi.waitFor(async () => expect(await calls()).toEqual(['backup']), { timeout: 30_000, interval: 50 });
    notify.kill('SIGTERM');
    await keepalived.close();
    expect(await notify).toMatchObject({ exitCode: 0, isTerminated: false, stderr: closedEnd(notify.pid) });
  });

  it.each([
    [
      ['--fifo', '/dev/null', '--instance', 'netgwm_lan'],
      "netgwm-notify: /dev/null is not a FIFO; expected keepalived's vrrp_notify_fifo (keepalived appends its path to vrrp_notify_fifo_script)",
    ],
    [
      ['--fifo', '/dev/null'],
      "netgwm-notify: --fifo needs --instance NAME: the vrrp_instance (or vrrp_sync_group) whose state is this router's role",
    ],
    [['--fifo'], 'netgwm-notify: --fifo needs a value'],
  ])('%j: exit 2 and a message', async (args, stderr) => {
    expect(await execa(NOTIFY, ['--netgwm', recorder, ...args], { reject: false })).toMatchObject({ exitCode: 2, stdout: '', stderr });
    expect(await calls()).toEqual([]);
  });
});
