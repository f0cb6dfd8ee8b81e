// `cluster:`: defaults, paths, and the load-time check of the peer's marks.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { configFixture, type ConfigFixture } from './fixture.js';

let fixture: ConfigFixture;

beforeAll(async () => {
  fixture = await configFixture('255\tlocal\n254\tmain\n101\tisp1\n102\tisp2\n');
});

const SITES = 'check_sites: [198.51.100.1]\nnftables: {}\n';
const gateways = (isp1: string, isp2 = '{ip: 192.0.2.2, priority: 2, mark: 0x2, table: isp2}') =>
  `gateways:\n  isp1: ${isp1}\n  isp2: ${isp2}\n${SITES}`;
const GOOD = gateways('{ip: 192.0.2.1, priority: 1, mark: 0x1, table: isp1}');

describe('cluster settings', () => {
  it('absent: standalone', async () => {
    expect((await fixture.load(GOOD)).config.cluster).toBeUndefined();
  });

  it('defaults: the role file in the state directory, no conntrackd, 180 s', async () => {
    const { config } = await fixture.load(`${GOOD}state_dir: state\ncluster: {}\n`);
    expect(config.cluster).toEqual({
      role_file: join(fixture.dir, 'state/role'),
      conntrackd: false,
      conntrackd_config: '/etc/conntrackd/conntrackd.conf',
      max_state_age: 180,
    });
  });

  it('takes every key, relative paths beside the config', async () => {
    const peer = join(fixture.dir, 'peer-same.yml');
    await writeFile(peer, GOOD);
    const { config } = await fixture.load(
      `${GOOD}cluster: {role_file: run/role, conntrackd: true, conntrackd_config: ct.conf, peer_config: peer-same.yml, max_state_age: 30}\n`,
    );
    expect(config.cluster).toEqual({
      role_file: join(fixture.dir, 'run/role'),
      conntrackd: true,
      conntrackd_config: join(fixture.dir, 'ct.conf'),
      peer_config: peer,
      max_state_age: 30,
    });
  });

  it.each([
    ['{conntrackd: yes please}', 'FILE: cluster.conntrackd: expected true or false, got "yes please"'],
    ['{max_state_age: 0}', 'FILE: cluster.max_state_age: expected number to be >=1, got 0'],
    ['{vip: 203.0.113.1}', 'FILE: cluster.vip: unknown key; check its spelling (see netgwm(8))'],
  ])('refuses %s', async (cluster, problem) => {
    expect(await fixture.problems(`${GOOD}cluster: ${cluster}\n`)).toEqual([problem]);
  });
});

describe('cluster.peer_config', () => {
  const withPeer = async (peerYaml: string) => {
    const peer = join(fixture.dir, `peer-${Math.random().toString(16).slice(2)}.yml`);
    // The peer's own peer_config names this router's file: it is not followed.
    await writeFile(peer, `${peerYaml}cluster: {peer_config: /nonexistent/netgwm.yml}\n`);
    return { peer, yaml: `${GOOD}cluster: {peer_config: ${peer}}\n` };
  };

  it('loads when the same uplinks have the same marks and tables', async () => {
    const { yaml } = await withPeer(GOOD);
    await expect(fixture.load(yaml)).resolves.toBeDefined();
  });

  it('refuses another mark or table for the same uplink', async () => {
    const { peer, yaml } = await withPeer(
      gateways('{ip: 192.0.2.11, priority: 1, mark: 0x3, table: isp2}', '{ip: 192.0.2.12, priority: 2, mark: 0x4, table: isp1}'),
    );
    expect(await fixture.problems(yaml)).toEqual([
      `FILE: gateways.isp1.mark: expected the same mark as the peer's (${peer}: 0x3), got 0x1; connections synced by conntrackd keep their mark, so a takeover would move them to another uplink`,
      `FILE: gateways.isp1.table: expected the same routing table as the peer's (${peer}: 102), got 101`,
      `FILE: gateways.isp2.mark: expected the same mark as the peer's (${peer}: 0x4), got 0x2; connections synced by conntrackd keep their mark, so a takeover would move them to another uplink`,
      `FILE: gateways.isp2.table: expected the same routing table as the peer's (${peer}: 101), got 102`,
    ]);
  });

  it('says so when the peer config does not load', async () => {
    const missing = join(fixture.dir, 'no-such-peer.yml');
    const problems = await fixture.problems(`${GOOD}cluster: {peer_config: ${missing}}\n`);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(
      new RegExp(
        `^FILE: cluster.peer_config: the peer's config does not load \\(${missing}: cannot read the config file: .*\\); copy the peer's netgwm.yml there again$`,
      ),
    );
  });
});
