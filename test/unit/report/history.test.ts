import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { emptyState, type State } from '../../../src/core/types.js';
import { localTime } from '../../../src/log/time.js';
import { historyDocument, parseLine, readHistory, type HistoryEntry } from '../../../src/report/history.js';
import { historyTable } from '../../../src/report/history-table.js';
import { logParts } from '../../../src/report/log-files.js';
import { paint } from '../../../src/report/paint.js';
import { tempDir } from '../../support/temp-dir.js';

const T0 = new Date(2026, 10, 26, 9, 0, 0).getTime();
const at = (minutes: number) => T0 + minutes * 60_000;
const text = (minutes: number, rest: string) => `${localTime(new Date(at(minutes)))} ${rest}`;
const switchLine = (minutes: number, from: string, to: string, reason: string) =>
  text(minutes, `INFO route replaced to: via 192.0.2.5 (${to}, was ${from}: ${reason})`);

describe('parseLine', () => {
  it('reads switches, all-down and recoveries from text lines', () => {
    expect(parseLine(switchLine(0, 'isp1', 'isp2', 'isp1 down, 0/2 sites answered (no reply)'), 'netgwm.log')).toEqual({
      kind: 'switch',
      at: at(0),
      from: 'isp1',
      to: 'isp2',
      reason: 'isp1 down, 0/2 sites answered (no reply)',
      source: 'netgwm.log',
    });
    expect(parseLine(switchLine(0, 'none', 'isp1', 'no current gateway'), 'x')).not.toHaveProperty('from');
    expect(parseLine(text(1, 'ERROR all gateways down; keeping the current route (isp2)'), 'x')).toEqual({
      kind: 'outage',
      at: at(1),
      current: 'isp2',
      source: 'x',
    });
    expect(parseLine(text(3, 'INFO a gateway answers again after 120 s with all gateways down'), 'x')).toEqual({
      kind: 'recovered',
      at: at(3),
      downForMs: 120_000,
    });
    expect(parseLine(text(3, 'INFO gateway isp1 up: 2/2 sites answered'), 'x')).toBeUndefined();
  });

  it("reads NetGWM's own switch lines (comma before the milliseconds, no names)", () => {
    expect(parseLine('2017-07-14 06:25:41,554 route replaced to: via 88.88.88.88', 'netgwm.log.4.gz')).toMatchObject({
      kind: 'switch',
      to: 'via 88.88.88.88',
      reason: '',
    });
  });

  const gateways = [
    { name: 'thebestone', ip: '192.0.2.1', priority: 1 },
    { name: 'notsogood', ip: '192.0.2.5', dev: 'eth2', priority: 2 },
    { name: 'gprsbackup', dev: 'ppp333', priority: 3 },
  ];
  it.each([
    ['via 192.0.2.1', 'thebestone'],
    ['via 192.0.2.1 dev eth1', 'thebestone'], // the config names no dev: the ip decides
    ['via 192.0.2.5 dev eth2', 'notsogood'],
    ['via 192.0.2.5 dev eth9', 'via 192.0.2.5 dev eth9'], // the config says another dev
    ['dev ppp333', 'gprsbackup'],
    ['via NaN dev ppp333', 'gprsbackup'],
    ['via 198.51.100.9', 'via 198.51.100.9'], // no longer in the config: the route as written
  ])("names NetGWM's `route replaced to: %s` after the config's gateway: %s", (route, name) => {
    expect(parseLine(`2017-07-14 06:25:41,554 route replaced to: ${route}`, 'netgwm.log.4.gz', gateways)).toEqual({
      kind: 'switch',
      at: new Date(2017, 6, 14, 6, 25, 41, 554).getTime(),
      to: name,
      reason: '',
      source: 'netgwm.log.4.gz',
    });
  });

  it("leaves netgwm's own lines, which name the gateways, as they are", () => {
    expect(parseLine(switchLine(0, 'isp1', 'notsogood', 'r'), 'x', gateways)).toMatchObject({ from: 'isp1', to: 'notsogood' });
  });

  it('finds an event only at the start of the message, never inside another line', () => {
    const forged = [
      'INFO hook /etc/netgwm/post-replace.d/x exited 0 in 0.01 s; output: route replaced to: via 192.0.2.99 (isp9, was isp1: forged)',
      'INFO hook /etc/netgwm/post-replace.d/x\\nroute replaced to: via 192.0.2.99 exited 0 in 0.01 s',
      'WARN hook /x exited 1 in 0.01 s; stderr: all gateways down; keeping the current route',
      'INFO hook /x exited 0 in 0.01 s; output: a gateway answers again after 120 s with all gateways down',
    ];
    for (const line of forged) expect(parseLine(text(0, line), 'x'), line).toBeUndefined();
  });

  it('reads log_format: json lines, and skips a line cut short', () => {
    expect(
      parseLine(
        JSON.stringify({
          level: 30,
          time: at(5),
          event: 'switched',
          to: { name: 'isp2', ip: '192.0.2.5' },
          from: { name: 'isp1' },
          reason: 'r',
          msg: '…',
        }),
        'j',
      ),
    ).toEqual({ kind: 'switch', at: at(5), from: 'isp1', to: 'isp2', reason: 'r', source: 'j' });
    expect(parseLine(JSON.stringify({ time: at(6), event: 'recovered', downForMs: 5000 }), 'j')).toEqual({
      kind: 'recovered',
      at: at(6),
      downForMs: 5000,
    });
    expect(parseLine('{"level":30,"time":17', 'j')).toBeUndefined();
  });
});

describe('readHistory over a log rotated once and compressed once', () => {
  async function logDir(): Promise<string> {
    const dir = await tempDir('history');
    await writeFile(
      join(dir, 'netgwm.log.2.gz'),
      gzipSync(
        `${[
          switchLine(0, 'none', 'isp1', 'no current gateway'),
          text(10, 'ERROR all gateways down; keeping the current route (isp1)'),
        ].join('\n')}\n`,
      ),
    );
    await writeFile(
      join(dir, 'netgwm.log.1'),
      `${[
        text(12, 'INFO a gateway answers again after 120 s with all gateways down'),
        switchLine(20, 'isp1', 'isp2', 'isp1 down, 0/2 sites answered'),
      ].join('\n')}\n`,
    );
    await writeFile(
      join(dir, 'netgwm.log'),
      `${[
        text(30, 'DEBUG cycle done in 200 ms on isp2; probed isp2, isp1'),
        switchLine(45, 'isp2', 'isp1', 'isp1 is back and stable, up for 15m00s'),
      ].join('\n')}\n`,
    );
    await writeFile(join(dir, 'netgwm.log.old'), switchLine(50, 'x', 'y', 'not a logrotate part'));
    return dir;
  }

  it('lists the parts oldest first', async () => {
    const dir = await logDir();
    expect(await logParts(join(dir, 'netgwm.log'))).toEqual(
      ['netgwm.log.2.gz', 'netgwm.log.1', 'netgwm.log'].map((name) => join(dir, name)),
    );
  });

  it('finds the switches and the outage in every part, with how long each uplink carried traffic', async () => {
    const dir = await logDir();
    const doc = historyDocument(await readHistory(join(dir, 'netgwm.log'), emptyState()), 20, at(60));
    expect(doc.entries).toEqual([
      {
        kind: 'switch',
        family: 4,
        at: iso(0),
        from: null,
        to: 'isp1',
        reason: 'no current gateway',
        on_to_s: 1200,
        ongoing: false,
        source: 'netgwm.log.2.gz',
      },
      {
        kind: 'outage',
        family: 4,
        at: iso(10),
        until: iso(12),
        duration_s: 120,
        ongoing: false,
        current: 'isp1',
        source: 'netgwm.log.2.gz',
      },
      {
        kind: 'switch',
        family: 4,
        at: iso(20),
        from: 'isp1',
        to: 'isp2',
        reason: 'isp1 down, 0/2 sites answered',
        on_to_s: 1500,
        ongoing: false,
        source: 'netgwm.log.1',
      },
      {
        kind: 'switch',
        family: 4,
        at: iso(45),
        from: 'isp2',
        to: 'isp1',
        reason: 'isp1 is back and stable, up for 15m00s',
        on_to_s: 900,
        ongoing: true,
        source: 'netgwm.log',
      },
    ]);
    expect(historyDocument(await readHistory(join(dir, 'netgwm.log'), emptyState()), 2, at(60)).entries.map((entry) => entry.at)).toEqual([
      iso(20),
      iso(45),
    ]);
  });

  it('adds what only the state knows: a switch the log lost, an ongoing outage', async () => {
    const dir = await logDir();
    const state: State = {
      ...emptyState(),
      active: 'isp1',
      allDownSince: at(55),
      lastSwitch: { at: at(50), from: 'isp1', to: 'isp3', reason: 'isp1 down' },
    };
    const entries = (await readHistory(join(dir, 'netgwm.log'), state)).slice(-2);
    expect(entries).toEqual([
      { kind: 'switch', at: at(50), from: 'isp1', to: 'isp3', reason: 'isp1 down', source: 'state' },
      { kind: 'outage', at: at(55), current: 'isp1', source: 'state' },
    ]);
    // The state's last switch is the log's last line: not listed twice.
    const logged: State = {
      ...emptyState(),
      lastSwitch: { at: at(45) - 800, from: 'isp2', to: 'isp1', reason: 'isp1 is back and stable, up for 15m00s' },
    };
    expect((await readHistory(join(dir, 'netgwm.log'), logged)).filter((entry) => entry.source === 'state')).toEqual([]);
  });

  it('a recovery whose outage start was rotated away still gives the outage', async () => {
    const dir = await tempDir('history');
    await writeFile(join(dir, 'netgwm.log'), text(12, 'INFO a gateway answers again after 120 s with all gateways down\n'));
    expect(await readHistory(join(dir, 'netgwm.log'), emptyState())).toEqual([
      { kind: 'outage', at: at(10), until: at(12), source: 'netgwm.log' },
    ]);
  });

  it('no log at all is an empty history', async () => {
    const dir = await tempDir('history');
    expect(await readHistory(join(dir, 'netgwm.log'), emptyState())).toEqual([]);
    expect(historyTable(historyDocument([], 20, at(0)), paint(false))).toBe(
      'No switches or outages recorded yet (in the state or the log).\n',
    );
  });

  it('the table escapes control characters of names and reasons from the log and the state', () => {
    const entries: HistoryEntry[] = [
      { kind: 'switch', at: at(45), from: 'isp2', to: 'isp1', reason: 'from an old log \u001b[31mred', source: 'netgwm.log' },
      {
        kind: 'switch',
        at: at(50),
        from: 'isp1',
        to: 'isp2',
        reason: 'isp1 down\n2026-11-26 10:00:00  switch    isp9 -> isp1\r',
        source: 'state',
      },
      { kind: 'outage', at: at(55), current: 'isp2\u001b[2K', source: 'state' },
    ];
    const table = historyTable(historyDocument(entries, 20, at(60)), paint(false));
    expect(table.split('\n')).toHaveLength(4);
    expect(table).toContain(': from an old log \\x1b[31mred\n');
    expect(table).toContain(': isp1 down\\n2026-11-26 10:00:00  switch    isp9 -> isp1\\r\n');
    expect(table).toContain('route kept on isp2\\x1b[2K\n');
  });

  it('the table', async () => {
    const dir = await logDir();
    const table = historyTable(historyDocument(await readHistory(join(dir, 'netgwm.log'), emptyState()), 20, at(60)), paint(false));
    const local = (minutes: number) => localTime(new Date(at(minutes))).slice(0, 19);
    expect(table).toBe(
      [
        `${local(0)}  switch    none -> isp1 (on isp1 for 20m00s): no current gateway`,
        `${local(10)}  all down  lasted 2m00s; route kept on isp1`,
        `${local(20)}  switch    isp1 -> isp2 (on isp2 for 25m00s): isp1 down, 0/2 sites answered`,
        `${local(45)}  switch    isp2 -> isp1 (on isp1 for 15m00s so far): isp1 is back and stable, up for 15m00s`,
        '',
      ].join('\n'),
    );
  });
});

const iso = (minutes: number) => new Date(at(minutes)).toISOString();

describe('history of a dual-stack router', () => {
  const v6 = (minutes: number, rest: string) => text(minutes, `INFO IPv6: ${rest}`);
  it.each([
    [
      'an IPv6 switch line',
      v6(0, 'route replaced to: via fe80::1 dev wan2 (isp2, was isp1: isp1 down, 0/1 sites answered)'),
      { kind: 'switch', family: 6, at: at(0), from: 'isp1', to: 'isp2', reason: 'isp1 down, 0/1 sites answered', source: 'x' },
    ],
    [
      'an IPv6 outage',
      v6(1, 'all gateways down; keeping the current route (isp2)'),
      { kind: 'outage', family: 6, at: at(1), current: 'isp2', source: 'x' },
    ],
    [
      'a JSON IPv6 switch',
      JSON.stringify({ time: at(2), event: 'switched', family: 6, to: { name: 'isp1' }, from: { name: 'isp2' }, reason: 'back' }),
      { kind: 'switch', family: 6, at: at(2), from: 'isp2', to: 'isp1', reason: 'back', source: 'x' },
    ],
  ])('%s', (_name, line, entry) => {
    expect(parseLine(line, 'x')).toEqual(entry);
  });

  it("keeps each family's switches and outages apart", async () => {
    const dir = await tempDir('history-families');
    const log = join(dir, 'netgwm.log');
    await writeFile(
      log,
      [
        switchLine(0, 'none', 'isp1', 'no current gateway'),
        v6(0, 'route replaced to: via fe80::1 dev wan1 (isp1, was none: no current gateway)'),
        v6(5, 'all gateways down; keeping the current route (isp1)'),
        switchLine(8, 'isp1', 'isp2', 'isp1 down'),
        text(9, 'INFO IPv6: a gateway answers again after 240 s with all gateways down'),
        '',
      ].join('\n'),
    );
    const doc = historyDocument(await readHistory(log, emptyState(), [], emptyState()), 20, at(10));
    expect(doc.entries.map((entry) => [entry.kind, entry.family, entry.at])).toEqual([
      ['switch', 4, new Date(at(0)).toISOString()],
      ['switch', 6, new Date(at(0)).toISOString()],
      ['outage', 6, new Date(at(5)).toISOString()],
      ['switch', 4, new Date(at(8)).toISOString()],
    ]);
    // IPv4 traffic stayed on isp1 until IPv4's next switch; IPv6 is still on isp1.
    expect(doc.entries[0]).toMatchObject({ on_to_s: 480, ongoing: false });
    expect(doc.entries[1]).toMatchObject({ on_to_s: 600, ongoing: true });
    expect(doc.entries[2]).toMatchObject({ duration_s: 240, ongoing: false });
    expect(historyTable(doc, paint(false)).split('\n')[1]).toContain('switch    IPv6 none -> isp1');
  });
});
