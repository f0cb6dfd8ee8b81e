import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { configFixture, type ConfigFixture } from './fixture.js';

let fixture: ConfigFixture;

beforeAll(async () => {
  fixture = await configFixture();
});

const load = (yaml: string) => fixture.load(yaml);
const problems = (yaml: string) => fixture.problems(yaml);

const GOOD = `gateways:\n  isp1: {ip: 192.0.2.1, priority: 1}\n  isp2: {ip: 192.0.2.5, dev: wan-2, priority: 2}\ncheck_sites: [198.51.100.1]\n`;

describe('loadConfig', () => {
  it('loads a config written for the original NetGWM unchanged', async () => {
    const { config } = await load(`# /etc/netgwm/netgwm.yml from NetGWM
gateways:
  thebestone: {ip: 192.0.2.1,  priority: 1}
  notsogood:  {ip: 192.0.2.5, priority: 2}
  gprsbackup: {dev: ppp333,      priority: 3}
min_uptime: 900
check_sites: [198.51.100.1, 198.51.100.2, some.host.name]
check_all_gateways: yes
mode: thebestone
`);
    expect(config.gateways.map((g) => g.name)).toEqual(['thebestone', 'notsogood', 'gprsbackup']);
    // A device-only gateway takes its address from the kernel (see src/core/dynamic-gateways.ts).
    expect(config.gateways[2]).toEqual({
      name: 'gprsbackup',
      dev: 'ppp333',
      auto: true,
      priority: 3,
      probe: { mark: 0x4e470003, table: 197, ports: { from: 61128, to: 61191 } },
    });
    expect(config.check_all_gateways).toBe(true); // YAML 1.1 "yes", as PyYAML read it
    expect(config.mode).toBe('thebestone');
    expect(config.min_uptime).toBe(900);
    expect(config.check_table_id).toBe(194);
    expect(config.hooks_dir).toBe(join(fixture.dir, 'post-replace.d'));
  });

  it('fills in the defaults', async () => {
    const { config } = await load(GOOD);
    expect(config).toMatchObject({
      min_uptime: 900,
      check_all_gateways: false,
      state_dir: '/var/lib/netgwm',
      log_file: '/var/log/netgwm.log',
      log_format: 'text',
      hook_timeout: 30,
      check_table: 'netgwm_check',
      probe: {
        count: 2,
        timeout: 0.5,
        mark: 0x4e470000,
        rule_pref: 1000,
        resolve_timeout: 1,
        interval: 0.15,
        down: 3,
        up: 10,
        min_sites: 1,
        window: 30,
        loss_down: 30,
        loss_up: 10,
      },
    });
    // No default: a `mode` not written lets `netgwm use` decide; a written one (even auto) wins over it.
    expect(config).not.toHaveProperty('mode');
    expect((await load(`${GOOD}mode: auto\n`)).config.mode).toBe('auto');
  });

  it('sorts gateways best first and accepts a table number', async () => {
    const { config } = await load(
      `gateways:\n  b: {ip: 192.0.2.5, priority: 7}\n  a: {dev: ppp0, priority: 3}\ncheck_sites: [example.net]\ncheck_table: 100\n`,
    );
    expect(config.gateways.map((g) => g.name)).toEqual(['a', 'b']);
    expect(config.check_table_id).toBe(100);
    // Probe paths follow the file's order, not the priority: adding a better gateway at the end moves no path.
    expect(config.gateways.map((g) => [g.name, g.probe])).toEqual([
      ['a', { mark: 0x4e470002, table: 102, ports: { from: 61064, to: 61127 } }],
      ['b', { mark: 0x4e470001, table: 101, ports: { from: 61000, to: 61063 } }],
    ]);
  });

  it('`ip: auto` and a dev without ip: the address comes from the kernel', async () => {
    const { config } = await fixture.load(GOOD.replace('ip: 192.0.2.5, dev: wan-2', 'ip: auto, dev: wan-2'));
    expect(config.gateways[1]).toEqual({
      name: 'isp2',
      dev: 'wan-2',
      auto: true,
      priority: 2,
      probe: { mark: 0x4e470002, table: 196, ports: { from: 61064, to: 61127 } },
    });
  });

  it('gives each gateway 64 local ports from probe.port_base, in the order of the file, and checks that they fit below 65536', async () => {
    const { config } = await load(`${GOOD}probe: {port_base: 40000}\n`);
    expect(config.gateways.map((g) => g.probe.ports)).toEqual([
      { from: 40000, to: 40063 },
      { from: 40064, to: 40127 },
    ]);
    expect((await load(`${GOOD}probe: {port_base: 65408}\n`)).config.gateways[1]!.probe.ports).toEqual({ from: 65472, to: 65535 });
    expect(await problems(`${GOOD}probe: {port_base: 65409}\n`)).toEqual([
      'FILE: probe.port_base: expected a port that leaves room for 64 local ports per gateway (probe.port_base … + 127) up to 65535, got 65409',
    ]);
  });

  it('gives the probe tables around the system tables 253-255 the next numbers', async () => {
    const { config } = await load(`${GOOD.replace('check_sites', '  isp3: {dev: ppp0, priority: 3}\ncheck_sites')}check_table: 251\n`);
    expect(config.gateways.map((g) => g.probe.table)).toEqual([252, 256, 257]);
  });

  it.each([
    ['a wrong type', GOOD.replace('priority: 2', 'priority: high'), ['FILE: gateways.isp2.priority: expected a number, got "high"']],
    ['a bad address', GOOD.replace('192.0.2.5', '192.0.2.500'), ['FILE: gateways.isp2.ip: expected an IPv4 address, got "192.0.2.500"']],
    [
      '`ip: auto` without a dev',
      GOOD.replace('ip: 192.0.2.5, dev: wan-2, ', 'ip: auto, '),
      ["FILE: gateways.isp2.ip: `ip: auto` takes the gateway the kernel has for the gateway's `dev`; add the `dev`"],
    ],
    [
      'neither ip nor dev',
      GOOD.replace('ip: 192.0.2.5, dev: wan-2, ', ''),
      ['FILE: gateways.isp2: a gateway needs an `ip`, an `ip6` or a `dev` (or several of them)'],
    ],
    [
      'duplicate priorities',
      GOOD.replace('priority: 2', 'priority: 1'),
      [
        'FILE: gateways.isp2.priority: priority 1 is also used by gateway "isp1"; give every gateway its own priority, or give both a weight to balance connections over them',
      ],
    ],
    [
      'an empty check_sites',
      GOOD.replace('[198.51.100.1]', '[]'),
      ['FILE: check_sites: expected at least one check site, got an empty list'],
    ],
    ['a missing check_sites', GOOD.replace('check_sites: [198.51.100.1]\n', ''), ['FILE: check_sites: missing; expected a list']],
    [
      'a bad check site',
      GOOD.replace('198.51.100.1', 'not a host!'),
      ['FILE: check_sites.0: expected an IP address or a host name, got "not a host!"'],
    ],
    ['an unknown key', `${GOOD}chek_all_gateways: true\n`, ['FILE: chek_all_gateways: unknown key; check its spelling (see netgwm(8))']],
    [
      'an unknown gateway key',
      GOOD.replace('priority: 2', 'priority: 2, colour: red'),
      ['FILE: gateways.isp2.colour: unknown key; check its spelling (see netgwm(8))'],
    ],
    ['a mode naming no gateway', `${GOOD}mode: isp9\n`, ['FILE: mode: expected "auto" or the name of a gateway (isp1, isp2), got "isp9"']],
    [
      'an undeclared check_table',
      `${GOOD}check_table: nosuch\n`,
      [
        'FILE: check_table: routing table "nosuch" is not declared in /etc/iproute2/rt_tables or rt_tables.d/*.conf; add a line such as "194 nosuch" to /etc/iproute2/rt_tables.d/netgwm.conf',
      ],
    ],
    [
      'the main table as check_table',
      `${GOOD}check_table: main\n`,
      [expect.stringContaining('FILE: check_table: expected a table of netgwm\'s own, got "main", which is the system table 254')],
    ],
    [
      'a bad interface name',
      GOOD.replace('wan-2', 'a very long interface name'),
      [expect.stringContaining('FILE: gateways.isp2.dev: expected an interface name')],
    ],
    ['no gateways', 'gateways: {}\ncheck_sites: [198.51.100.1]\n', ['FILE: gateways: expected at least one gateway']],
    ['a negative min_uptime', `${GOOD}min_uptime: -5\n`, [expect.stringMatching(/^FILE: min_uptime: .*>=0, got -5$/)]],
    ['a log_format typo', `${GOOD}log_format: jsn\n`, ['FILE: log_format: expected one of "text", "json", got "jsn"']],
    ['an empty file', '', ['FILE: gateways: missing; expected a mapping (key: value)', 'FILE: check_sites: missing; expected a list']],
  ])('reports %s', async (_, yaml, expected) => {
    expect(await problems(yaml)).toEqual(expected);
  });

  it('gives line and column of a YAML syntax error', async () => {
    const lines = await problems('gateways:\n  isp1: {ip: 192.0.2.1\ncheck_sites: [a\n');
    expect(lines[0]).toMatch(
      /^FILE: line 3, column 1: YAML syntax error: Flow map in block collection must be sufficiently indented and end with a \}$/,
    );
  });

  it('rejects a key given twice', async () => {
    expect((await problems(`${GOOD}min_uptime: 5\nmin_uptime: 6\n`))[0]).toMatch(
      /^FILE: line 6, column 1: YAML syntax error: Map keys must be unique/,
    );
  });

  it('reports a missing file with its path', async () => {
    await expect(loadConfig(join(fixture.dir, 'nope.yml'))).rejects.toThrow(/nope\.yml: cannot read the config file: ENOENT/);
  });
});
