// The pure decisions of an HA pair member: role file words, who runs hooks, conntrackd's
// sequences, the health verdict for keepalived, and the peer's marks.
import { describe, expect, it } from 'vitest';
import { conntrackdSteps, healthVerdict, hookRole, parseRole, peerDifferences, type FamilyHealthInput } from '../../../src/core/cluster.js';

describe('parseRole', () => {
  it.each([
    ['master\n', 'master'],
    ['backup', 'backup'],
    ['  fault \n', 'fault'],
    ['MASTER\n', undefined],
    ['', undefined],
    ['master backup', undefined],
    [undefined, undefined],
  ])('%j is %s', (text, role) => {
    expect(parseRole(text)).toBe(role);
  });
});

describe('hookRole', () => {
  it.each([
    [false, undefined, { role: 'standalone', runsHooks: true }],
    [false, 'backup', { role: 'standalone', runsHooks: true }],
    [true, 'master', { role: 'master', runsHooks: true }],
    [true, 'backup', { role: 'backup', runsHooks: false }],
    [true, 'fault', { role: 'fault', runsHooks: false }],
    // keepalived has not called yet: a backup until it says otherwise.
    [true, undefined, { role: 'backup', runsHooks: false }],
  ] as const)('clustered %s, role file %s', (clustered, written, expected) => {
    expect(hookRole(clustered, written)).toEqual(expected);
  });
});

describe('conntrackdSteps', () => {
  it.each([
    ['master', ['-c', '-f', '-R', '-B']],
    ['backup', ['-t', '-n']],
    ['fault', ['-t']],
  ] as const)('%s: as primary-backup.sh', (role, flags) => {
    expect(conntrackdSteps(role).map((step) => step.flag)).toEqual(flags);
  });
});

describe('healthVerdict', () => {
  const NOW = 1_000_000_000;
  const up = (up: boolean) => ({ up, since: 0, checkedAt: 0 });
  const ipv4 = (state: FamilyHealthInput['state']): FamilyHealthInput => ({ family: 4, gateways: ['isp1', 'isp2'], state });
  const ipv6 = (state: FamilyHealthInput['state']): FamilyHealthInput => ({ family: 6, gateways: ['isp1'], state });
  it.each<[string, FamilyHealthInput[], boolean, string]>([
    ['no state yet', [ipv4({ gateways: {} })], false, 'fail: no state saved yet (is the daemon or cron running?)'],
    [
      'fresh, active up',
      [ipv4({ lastCycleAt: NOW - 5000, gateways: { isp1: up(true), isp2: up(true) }, active: 'isp2' })],
      true,
      'ok: isp2 up',
    ],
    [
      'fresh, active down: the best up',
      [ipv4({ lastCycleAt: NOW, gateways: { isp1: up(true), isp2: up(false) }, active: 'isp2' })],
      true,
      'ok: isp1 up',
    ],
    ['fresh, all down', [ipv4({ lastCycleAt: NOW, gateways: { isp1: up(false), isp2: up(false) } })], false, 'fail: no usable gateway'],
    ['exactly the limit is fresh', [ipv4({ lastCycleAt: NOW - 180_000, gateways: { isp1: up(true) } })], true, 'ok: isp1 up'],
    ['stale', [ipv4({ lastCycleAt: NOW - 212_000, gateways: { isp1: up(true) } })], false, 'fail: state is 212 s old'],
    ['a gateway no longer in the config', [ipv4({ lastCycleAt: NOW, gateways: { old: up(true) } })], false, 'fail: no usable gateway'],
    [
      'IPv4 down, IPv6 up',
      [ipv4({ lastCycleAt: NOW, gateways: { isp1: up(false) } }), ipv6({ lastCycleAt: NOW, gateways: { isp1: up(true) } })],
      true,
      'ok: isp1 up (IPv6)',
    ],
    [
      'the newest family counts for freshness',
      [ipv4({ lastCycleAt: NOW - 500_000, gateways: { isp1: up(true) } }), ipv6({ lastCycleAt: NOW, gateways: { isp1: up(false) } })],
      true,
      'ok: isp1 up (IPv4)',
    ],
  ])('%s', (_name, families, healthy, line) => {
    expect(healthVerdict(families, NOW, 180_000)).toEqual({ healthy, line });
  });
});

describe('peerDifferences', () => {
  it.each<[string, Parameters<typeof peerDifferences>[0], Parameters<typeof peerDifferences>[1], string[]]>([
    ['same marks and tables', [{ name: 'isp1', mark: 1, table_id: 101 }], [{ name: 'isp1', mark: 1, table_id: 101 }], []],
    ['no marks on either', [{ name: 'isp1' }], [{ name: 'isp1' }], []],
    ['an uplink only here', [{ name: 'isp3', mark: 3 }], [{ name: 'isp1', mark: 1 }], []],
    [
      'another mark',
      [{ name: 'isp1', mark: 1 }],
      [{ name: 'isp1', mark: 2 }],
      [
        "gateways.isp1.mark: expected the same mark as the peer's (PEER: 0x2), got 0x1; connections synced by conntrackd keep their mark, so a takeover would move them to another uplink",
      ],
    ],
    [
      'another table',
      [{ name: 'isp1', mark: 1, table_id: 101 }],
      [{ name: 'isp1', mark: 1, table_id: 102 }],
      ["gateways.isp1.table: expected the same routing table as the peer's (PEER: 102), got 101"],
    ],
    [
      'a mark that is another uplink there',
      [{ name: 'dsl', mark: 1 }],
      [{ name: 'isp1', mark: 1 }],
      [`gateways.dsl.mark: mark 0x1 is gateway "isp1" in the peer's config (PEER); give an uplink the same name and mark on both routers`],
    ],
  ])('%s', (_name, local, peer, problems) => {
    expect(peerDifferences(local, peer, 'PEER').map(([key, message]) => `${key}: ${message}`)).toEqual(problems);
  });
});
