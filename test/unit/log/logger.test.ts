import { closeSync, constants, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { lineOf } from '../../../src/log/events.js';
import { createLogger, familyLogger, localTime, openLogFile } from '../../../src/log/logger.js';
import { mkfifo } from '../../support/fifo.js';
import { tempDir } from '../../support/temp-dir.js';

const FULL_LOG_DISK = fileURLToPath(new URL('./fixtures/full-log-disk.ts', import.meta.url));

function memory() {
  const lines: string[] = [];
  return { lines, to: { write: (text: string) => lines.push(text) } };
}

const switched = {
  kind: 'switched',
  to: { name: 'isp2', ip: '192.0.2.5', dev: 'eth2' },
  from: { name: 'isp1', ip: '192.0.2.1' },
  reason: 'isp1 down, 0/2 sites answered',
} as const;

describe('logger', () => {
  it.each([
    [4, 'route replaced to: via 192.0.2.5 dev eth2', undefined],
    [6, 'IPv6: route replaced to: via 192.0.2.5 dev eth2', 6],
  ] as const)('IPv%s cycle: its lines and JSON records say the family', (family, start, field) => {
    const text = memory();
    const json = memory();
    familyLogger(
      createLogger([
        { to: text.to, level: 'info', format: 'text' },
        { to: json.to, level: 'info', format: 'json' },
      ]),
      family,
    ).event(switched);
    expect(text.lines[0]).toContain(` ${start} (isp2, was isp1:`);
    expect((JSON.parse(json.lines[0]!) as { family?: number }).family).toBe(field);
  });

  it("writes readable lines that keep NetGWM's switch phrase", () => {
    const file = memory();
    createLogger([{ to: file.to, level: 'info', format: 'text' }]).event(switched);
    expect(file.lines).toHaveLength(1);
    expect(file.lines[0]).toMatch(
      /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} INFO route replaced to: via 192\.0\.2\.5 dev eth2 \(isp2, was isp1: isp1 down, 0\/2 sites answered\)\n$/,
    );
  });

  it('writes pino JSON lines with the event fields when asked', () => {
    const file = memory();
    createLogger([{ to: file.to, level: 'info', format: 'json' }]).event(switched);
    expect(JSON.parse(file.lines[0]!)).toMatchObject({
      level: 30,
      event: 'switched',
      to: { name: 'isp2' },
      reason: 'isp1 down, 0/2 sites answered',
      msg: lineOf(switched),
    });
  });

  it('filters per output: a healthy cycle is debug only; stderr of a cron run gets problems only', () => {
    const file = memory();
    const stderr = memory();
    const log = createLogger([
      { to: file.to, level: 'info', format: 'text' },
      { to: stderr.to, level: 'warn', format: 'text', fixedLevel: true },
    ]);
    log.event({ kind: 'cycle-done', durationMs: 5, current: 'isp1', probed: ['isp1'] });
    log.event(switched);
    log.event({ kind: 'all-down', current: 'isp1' });
    expect(file.lines.map((line) => line.split(' ')[2])).toEqual(['INFO', 'ERROR']);
    expect(stderr.lines.map((line) => line.split(' ')[2])).toEqual(['ERROR']);
    log.setLevel('debug');
    log.event({ kind: 'cycle-done', durationMs: 5, probed: [] });
    expect(file.lines).toHaveLength(3);
    expect(stderr.lines).toHaveLength(1);
  });

  it('gives journald a priority prefix instead of the timestamp and the level word; the file keeps both', () => {
    const [journal, file] = [memory(), memory()];
    const log = createLogger([
      { to: journal.to, level: 'debug', format: 'text', style: 'journal' },
      { to: file.to, level: 'debug', format: 'text' },
    ]);
    log.event({ kind: 'all-down' });
    log.event({ kind: 'lock-busy', waitedMs: 1000 });
    log.event({ kind: 'daemon-stopping', signal: 'SIGTERM' });
    log.event({ kind: 'cycle-done', durationMs: 5, probed: [] });
    expect(journal.lines).toEqual([
      '<3>all gateways down; keeping the current route\n',
      '<4>another netgwm cycle is running; gave up after waiting 1.0 s\n',
      '<6>daemon stopping on SIGTERM\n',
      '<7>cycle done in 5 ms on no gateway; probed nothing\n',
    ]);
    expect(file.lines.map((line) => line.split(' ')[2])).toEqual(['ERROR', 'WARN', 'INFO', 'DEBUG']);
  });

  it('escapes control characters in text lines, so no input can start a line of its own', () => {
    const file = memory();
    const journal = memory();
    const log = createLogger([
      { to: file.to, level: 'info', format: 'text' },
      { to: journal.to, level: 'info', format: 'text', style: 'journal' },
    ]);
    const hook = '/etc/netgwm/post-replace.d/x\n2026-11-26 10:00:00.000 INFO route replaced to: via 192.0.2.99\r\u001b[2K';
    log.event({ kind: 'hook-refused', hook, reason: 'r', fix: 'f' });
    expect(file.lines).toHaveLength(1);
    expect(file.lines[0]).toMatch(
      / ERROR hook \/etc\/netgwm\/post-replace\.d\/x\\n2026-11-26 10:00:00\.000 INFO route replaced to: via 192\.0\.2\.99\\r\\x1b\[2K not run: r; /,
    );
    expect(file.lines[0]!.split('\n')).toHaveLength(2); // the line and the empty rest after its end
    expect(journal.lines[0]!.split('\n')).toHaveLength(2);
  });

  it('leaves escaping of JSON lines to JSON', () => {
    const file = memory();
    createLogger([{ to: file.to, level: 'info', format: 'json' }]).event({ kind: 'hook-refused', hook: 'x\ny', reason: 'r', fix: 'f' });
    expect(file.lines[0]!.split('\n')).toHaveLength(2);
    expect(JSON.parse(file.lines[0]!)).toMatchObject({ hook: 'x\ny' });
  });

  it('formats local time like NetGWM', () => {
    expect(localTime(new Date(2026, 10, 26, 9, 5, 7, 12))).toBe('2026-11-26 09:05:07.012');
  });
});

describe('reopen', () => {
  it('a destination that cannot reopen does not throw, and the others keep logging', () => {
    const good = memory();
    const broken = {
      write: () => true,
      reopen: () => {
        throw new Error('EACCES: permission denied');
      },
    };
    const log = createLogger([
      { to: broken, level: 'info', format: 'text' },
      { to: good.to, level: 'info', format: 'text' },
    ]);
    expect(() => log.reopen()).not.toThrow();
    log.event({ kind: 'all-down' });
    expect(good.lines).toHaveLength(1);
  });
});

describe('openLogFile', () => {
  it('refuses a FIFO at once (opening one for writing would wait for a reader), takes a file or /dev/null', async () => {
    const dir = await tempDir('log');
    const fifo = join(dir, 'fifo.log');
    await mkfifo(fifo);
    // With a reader first: code that opened it blocking would not hang, only fail the test.
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    expect(() => openLogFile(fifo)).toThrow(`${fifo} is a FIFO, not a regular file`);
    closeSync(reader);
    expect(() => openLogFile(fifo)).toThrow(`${fifo} is a FIFO, not a regular file`);
    const file = join(dir, 'deeper', 'netgwm.log');
    openLogFile(file).write('a line\n');
    expect(await readFile(file, 'utf8')).toBe('a line\n');
    expect(() => openLogFile('/dev/null')).not.toThrow();
  });
});

describe('log file', () => {
  it('a full disk loses lines, never the process; said once on stderr; writing resumes when there is room', async () => {
    const dir = await tempDir('log');
    // A 64 KiB tmpfs mounted only in the mount namespace of `unshare`, filled up but for nothing.
    const script =
      'mount -t tmpfs -o size=64k netgwm-test "$1" && { cat /dev/zero > "$1/fill" 2>/dev/null; node --import tsx "$2" "$1/netgwm.log" "$1/fill"; echo "exit $?"; cat "$1/netgwm.log"; }';
    const result = await execa('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, 'sh', dir, FULL_LOG_DISK], {
      reject: false,
      timeout: 60_000,
    });
    expect(result.stderr.split('\n')).toEqual([
      `netgwm: cannot write the log file ${dir}/netgwm.log (ENOSPC: no space left on device, write); its lines are held back or dropped until it can`,
    ]);
    const [alive, exit, ...lines] = result.stdout.split('\n');
    expect([alive, exit]).toEqual(['alive', 'exit 0']);
    // The lines held back while the disk was full are written with the next one.
    expect(lines).toHaveLength(51);
    expect(lines.at(-1)).toMatch(/ INFO config reloaded from after the disk had room again$/);
  });
});
