import { describe, expect, it } from 'vitest';
import { emptyState } from '../../../src/core/types.js';
import { localTime } from '../../../src/log/time.js';
import { statusDocument } from '../../../src/report/status-document.js';
import { statusTable } from '../../../src/report/status-table.js';
import { input, NOW } from './fixtures.js';

const at = (secondsAgo: number) => localTime(new Date(NOW - secondsAgo * 1000)).slice(0, 19);

describe('statusTable', () => {
  it('one row per gateway, the active one marked, summary lines above', () => {
    expect(statusTable(statusDocument(input), false)).toBe(
      [
        'Active: isp1   Mode: auto',
        `Last cycle: ${at(3)} (3s ago), took 243 ms`,
        `Last switch: ${at(1100)} (18m20s ago), isp2 -> isp1: isp1 is back and stable, up for 15m00s`,
        '',
        '   GATEWAY  PRIO  ROUTE                      STATE     FOR     STABLE  RTT      MEAN/MAX      LOSS      SITES  CHECKED          WHY',
        '*  isp1     1     via 192.0.2.1              up        20m00s  yes     0.30 ms  0.48/0.91 ms  13% of 8  2/2    3s ago           -',
        '   isp2     2     via 198.51.100.1 dev eth2  degraded  3m10s   ?       12.5 ms  12.5/12.5 ms  50% of 4  1/2    2m00s ago (old)  loss 50 % > 10 % over 30 s',
        '   lte      3     dev ppp0                   unknown   -       -       -        -             -         -      never            -',
        '',
        'RTT: last probe; MEAN/MAX and LOSS: the last 100 site probes or 1h00m of each gateway. Totals: 4 switches, 1 hook failures.',
        '',
      ].join('\n'),
    );
  });

  it.each([
    ['master', 'HA role: master; hooks run here', { role: 'master', role_file: '/var/lib/netgwm/role', runs_hooks: true }],
    ['backup', 'HA role: backup; hooks run on the master only', { role: 'backup', role_file: '/var/lib/netgwm/role', runs_hooks: false }],
    [
      undefined,
      'HA role: unknown (keepalived has not called `netgwm role` yet), as backup; hooks run on the master only',
      { role: null, role_file: '/var/lib/netgwm/role', runs_hooks: false },
    ],
  ] as const)('with cluster: the role (%s) first, in the table and in --json', (role, line, json) => {
    const doc = statusDocument({ ...input, cluster: { roleFile: '/var/lib/netgwm/role', role } });
    expect(doc.cluster).toEqual(json);
    expect(statusTable(doc, false).split('\n')[0]).toBe(line);
    expect(statusTable({ ...doc, has_state: false }, false).split('\n')[0]).toBe(line);
  });

  it('standalone (no cluster:): no role line, `cluster: null`', () => {
    const doc = statusDocument(input);
    expect(doc.cluster).toBeNull();
    expect(statusTable(doc, false)).not.toMatch(/HA role/);
  });

  it('colours only when asked, and the columns still line up', () => {
    const plain = statusTable(statusDocument(input), false);
    const coloured = statusTable(statusDocument(input), true);
    expect(plain).not.toMatch(/\x1b\[/);
    expect(coloured).toMatch(/\x1b\[32mup\x1b\[0m/);
    expect(coloured.replace(/\x1b\[\d+m/g, '')).toBe(plain);
  });

  it('says plainly when there is no state yet, or why the state is unusable', () => {
    expect(statusTable(statusDocument({ ...input, state: emptyState(), hasState: false }), false)).toMatch(
      /^No status yet: \/var\/lib\/netgwm\/state\.json does not exist yet\.\nnetgwm records what it sees when a cycle ends; run `netgwm run`/,
    );
    expect(
      statusTable(
        statusDocument({ ...input, state: emptyState(), hasState: false, stateProblem: 'not JSON: Unexpected end of JSON input' }),
        false,
      ),
    ).toMatch(/^No status yet: the state file \/var\/lib\/netgwm\/state\.json is unusable \(not JSON: Unexpected end of JSON input\)/);
  });

  it('shows a pinned gateway, an outage and an incomplete switch', () => {
    const state = { ...input.state, allDownSince: NOW - 60_000, lastSwitch: { ...input.state.lastSwitch!, incomplete: ['conntrack'] } };
    const table = statusTable(statusDocument({ ...input, state, mode: 'isp2' }), false);
    expect(table).toContain('Mode: pinned to isp2');
    expect(table).toMatch(/isp2 +2 +via 198\.51\.100\.1 dev eth2 +degraded \(pinned\)/);
    expect(table).toContain(`All gateways down since ${localTime(new Date(NOW - 60_000))}; the route was kept.`);
    expect(table).toContain('(incomplete: conntrack)');
  });

  it.each([
    [{ mode: 'auto' }, 'Mode: auto\n'],
    [{ mode: 'isp2', modeSource: 'use', modeFile: 'isp2' }, 'Mode: pinned to isp2 (netgwm use)\n'],
    [{ mode: 'auto', modeSource: 'use', modeFile: 'auto' }, 'Mode: auto (netgwm use)\n'],
    [{ mode: 'auto', modeSource: 'config' }, "Mode: auto (the config's mode)\n"],
    [{ mode: 'isp1', modeSource: 'config', modeFile: 'isp1' }, "Mode: pinned to isp1 (the config's mode)\n"],
    [{ mode: 'auto', modeSource: 'config', modeFile: 'isp2' }, "Mode: auto (the config's mode); it overrides `netgwm use isp2`\n"],
    [{ mode: 'auto', modeSource: 'default', modeFile: 'isp9' }, 'Mode: auto (the mode file names "isp9", not a gateway: ignored)\n'],
  ] as const)('shows where the mode comes from: %j', (mode, line) => {
    expect(statusTable(statusDocument({ ...input, ...mode }), false).split('\n')[0]).toBe(`Active: isp1   ${line.trimEnd()}`);
  });

  it('escapes control characters of a stored reason, so it stays on its line and cannot colour the terminal', () => {
    const state = { ...input.state, lastSwitch: { ...input.state.lastSwitch!, reason: 'isp2 down\n\u001b[2KActive: isp9\r' } };
    const table = statusTable(statusDocument({ ...input, state }), false);
    expect(table).toContain('isp2 -> isp1: isp2 down\\n\\x1b[2KActive: isp9\\r\n');
    expect(table.split('\n')[3]).toBe('');
  });
});
