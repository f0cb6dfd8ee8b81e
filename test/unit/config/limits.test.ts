// Issue 9, point 4: every config the loader accepts can run. Names, interface names, numbers,
// routing tables, check sites, YAML aliases, the file itself and its size: each refusal names the
// file and the key (or line) and says what was expected.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { ConfigError } from '../../../src/errors.js';
import { mkfifo } from '../../support/fifo.js';
import { configFixture, type ConfigFixture } from './fixture.js';

let fixture: ConfigFixture;

beforeAll(async () => {
  fixture = await configFixture('255\tlocal\n254\tmain\n253\tdefault\n0\tunspec\n4294967293\ttop\n');
});

const GOOD = `gateways:\n  isp1: {ip: 192.0.2.1, priority: 1}\n  isp2: {ip: 192.0.2.5, dev: wan-2, priority: 2}\ncheck_sites: [198.51.100.1]\n`;
const withSite = (site: string) => GOOD.replace('[198.51.100.1]', `[${JSON.stringify(site)}]`);
const withDev = (dev: string) => GOOD.replace('wan-2', JSON.stringify(dev));
const withName = (name: string) => GOOD.replace('isp2:', `${JSON.stringify(name)}:`);
const BEYOND = 'expected a host beyond the uplinks, not';

describe('config limits', () => {
  it.each([
    // Names that are object internals or path components.
    ['mode: toString', `${GOOD}mode: toString\n`, ['FILE: mode: expected "auto" or the name of a gateway (isp1, isp2), got "toString"']],
    [
      'mode: constructor',
      `${GOOD}mode: constructor\n`,
      ['FILE: mode: expected "auto" or the name of a gateway (isp1, isp2), got "constructor"'],
    ],
    ['mode: __proto__', `${GOOD}mode: __proto__\n`, ['FILE: mode: expected "auto" or the name of a gateway (isp1, isp2), got "__proto__"']],
    [
      'mode: hasOwnProperty',
      `${GOOD}mode: hasOwnProperty\n`,
      ['FILE: mode: expected "auto" or the name of a gateway (isp1, isp2), got "hasOwnProperty"'],
    ],
    [
      'a gateway named __proto__',
      withName('__proto__'),
      [
        expect.stringMatching(
          /^FILE: gateways\.__proto__: expected a name of 1-32 letters, digits, "_", "-" or "\.", starting with a letter or digit/,
        ),
      ],
    ],
    ['a gateway named .', withName('.'), [expect.stringMatching(/^FILE: gateways\.\.: expected a name of 1-32/)]],
    ['a gateway named ..', withName('..'), [expect.stringMatching(/^FILE: gateways\.\.\.: expected a name of 1-32/)]],
    ['a gateway name with a slash', withName('a/b'), [expect.stringMatching(/^FILE: gateways\."a\/b": expected a name of 1-32/)]],
    [
      'a gateway name with a newline',
      withName('a\nINFO route replaced to: x'),
      [expect.stringMatching(/^FILE: gateways\."a\\nINFO route replaced to: x": expected a name/)],
    ],
    [
      'a gateway name of 33 characters',
      withName('a'.repeat(33)),
      [expect.stringMatching(/^FILE: gateways\.a{33}: expected a name of 1-32/)],
    ],
    // Interface names as the kernel's dev_valid_name takes them, printable ASCII only.
    [
      'a dev with a NUL',
      withDev('eth\u00001'),
      [expect.stringMatching(/^FILE: gateways\.isp2\.dev: expected an interface name .*, got "eth\\u00001"$/)],
    ],
    ['a dev "."', withDev('.'), [expect.stringMatching(/^FILE: gateways\.isp2\.dev: expected an interface name .*, got "\."$/)]],
    ['a dev ".."', withDev('..'), [expect.stringMatching(/^FILE: gateways\.isp2\.dev: expected an interface name .*, got "\.\."$/)]],
    ['a dev of 16 bytes', withDev('a'.repeat(16)), [expect.stringMatching(/^FILE: gateways\.isp2\.dev: expected an interface name/)]],
    [
      'a dev of 15 bytes in 8 characters',
      withDev('éééééééa'),
      [expect.stringMatching(/^FILE: gateways\.isp2\.dev: expected an interface name/)],
    ],
    ['a dev with a colon', withDev('eth0:1'), [expect.stringMatching(/^FILE: gateways\.isp2\.dev: expected an interface name/)]],
    ['a dev with a tab', withDev('eth\t1'), [expect.stringMatching(/^FILE: gateways\.isp2\.dev: expected an interface name/)]],
    ['a dev with an escape', withDev('eth\u001b1'), [expect.stringMatching(/^FILE: gateways\.isp2\.dev: expected an interface name/)]],
    // Paths: no NUL (no system call takes one), no control character (they are logged).
    [
      'a state_dir with a NUL',
      `${GOOD}state_dir: "/var/lib/net\\0gwm"\n`,
      ['FILE: state_dir: expected a path of printable characters, got "/var/lib/net\\u0000gwm"'],
    ],
    [
      'a log_file with a newline',
      `${GOOD}log_file: "/tmp/a\\nINFO route replaced to: x"\n`,
      ['FILE: log_file: expected a path of printable characters, got "/tmp/a\\nINFO route replaced to: x"'],
    ],
    [
      'a hooks_dir with an escape',
      `${GOOD}hooks_dir: "/etc/\\e[31m"\n`,
      [expect.stringMatching(/^FILE: hooks_dir: expected a path of printable characters/)],
    ],
    [
      'a status_dir with a tab',
      `${GOOD}status_dir: "/run/\\tx"\n`,
      [expect.stringMatching(/^FILE: status_dir: expected a path of printable characters/)],
    ],
    ['an empty log_file', `${GOOD}log_file: ""\n`, ['FILE: log_file: expected a path of printable characters, got ""']],
    // Numbers: timers within what Node can wait (2^31-1 ms), the rest within what they mean.
    ['hook_timeout: 3000000', `${GOOD}hook_timeout: 3000000\n`, [expect.stringMatching(/^FILE: hook_timeout: .*<=2147483, got 3000000$/)]],
    ['min_uptime: 1e10', `${GOOD}min_uptime: 1e10\n`, [expect.stringMatching(/^FILE: min_uptime: .*<=2147483, got 10000000000$/)]],
    ['min_uptime: .inf', `${GOOD}min_uptime: .inf\n`, [expect.stringMatching(/^FILE: min_uptime: /)]],
    ['min_uptime: .nan', `${GOOD}min_uptime: .nan\n`, [expect.stringMatching(/^FILE: min_uptime: /)]],
    [
      'verify_interval: 3000000',
      `${GOOD}nftables: {enabled: false, verify_interval: 3000000}\n`,
      [expect.stringMatching(/^FILE: nftables\.verify_interval: .*<=2147483, got 3000000$/)],
    ],
    ['probe.timeout: 31', `${GOOD}probe: {timeout: 31}\n`, [expect.stringMatching(/^FILE: probe\.timeout: .*<=30, got 31$/)]],
    [
      'probe.resolve_timeout: 0',
      `${GOOD}probe: {resolve_timeout: 0}\n`,
      [expect.stringMatching(/^FILE: probe\.resolve_timeout: .*>0, got 0$/)],
    ],
    [
      'a negative priority',
      GOOD.replace('priority: 2', 'priority: -1'),
      [expect.stringMatching(/^FILE: gateways\.isp2\.priority: .*>=0, got -1$/)],
    ],
    [
      'a priority of 65536',
      GOOD.replace('priority: 2', 'priority: 65536'),
      [expect.stringMatching(/^FILE: gateways\.isp2\.priority: .*<=65535, got 65536$/)],
    ],
    // Routing table ids: 32-bit, not 0 and not local/main/default.
    [
      'check_table: "99999999999"',
      `${GOOD}check_table: "99999999999"\n`,
      ['FILE: check_table: expected a routing table number from 1 to 4294967295, got "99999999999"'],
    ],
    ['check_table: 99999999999', `${GOOD}check_table: 99999999999\n`, [expect.stringMatching(/^FILE: check_table: /)]],
    [
      'a check_table that leaves no room for the probe tables',
      `${GOOD}check_table: 4294967294\n`,
      [
        'FILE: check_table: expected a table that leaves room for one probe table per gateway (check_table + 1 … + 2) up to 4294967295, got 4294967294',
      ],
    ],
    [
      'a probe.mark that leaves no room for the probe marks',
      `${GOOD}probe: {mark: 0xfffffffe}\n`,
      [
        'FILE: probe.mark: expected a mark that leaves room for one probe mark per gateway (probe.mark + 1 … + 2) up to 0xffffffff, got 0xfffffffe',
      ],
    ],
    ['check_table: 0', `${GOOD}check_table: 0\n`, [expect.stringMatching(/^FILE: check_table: /)]],
    ['check_table: "0"', `${GOOD}check_table: "0"\n`, ['FILE: check_table: expected a routing table number from 1 to 4294967295, got "0"']],
    [
      'check_table: "255"',
      `${GOOD}check_table: "255"\n`,
      [expect.stringContaining('FILE: check_table: expected a table of netgwm\'s own, got "255", which is the system table 255')],
    ],
    [
      'check_table: 253',
      `${GOOD}check_table: 253\n`,
      [expect.stringContaining("FILE: check_table: expected a table of netgwm's own, got 253, which is the system table 253")],
    ],
    ['a check_table name with a newline', `${GOOD}check_table: "a\\nb"\n`, [expect.stringMatching(/^FILE: check_table: /)]],
    // Check sites that can never test an uplink.
    [
      'check site 127.0.0.1',
      withSite('127.0.0.1'),
      [`FILE: check_sites.0: ${BEYOND} a loopback address (the router answers it itself, so every gateway would look up), got "127.0.0.1"`],
    ],
    ['check site 127.1.2.3', withSite('127.1.2.3'), [expect.stringContaining(`${BEYOND} a loopback address`)]],
    [
      'check site localhost',
      withSite('localhost'),
      [`FILE: check_sites.0: ${BEYOND} localhost (the router answers it itself, so every gateway would look up), got "localhost"`],
    ],
    ['check site LocalHost.', withSite('LocalHost.'), [expect.stringContaining(`${BEYOND} localhost`)]],
    ['check site foo.localhost', withSite('foo.localhost'), [expect.stringContaining(`${BEYOND} localhost`)]],
    [
      'check site ::1',
      withSite('::1'),
      [`FILE: check_sites.0: ${BEYOND} a loopback address (the router answers it itself, so every gateway would look up), got "::1"`],
    ],
    ['check site 0:0::1', withSite('0:0::1'), [expect.stringContaining(`${BEYOND} a loopback address`)]],
    ['check site ::', withSite('::'), [expect.stringContaining(`${BEYOND} an unspecified address`)]],
    ['check site ff02::1', withSite('ff02::1'), [expect.stringContaining(`${BEYOND} a multicast address`)]],
    ['check site fe80::1', withSite('fe80::1'), [expect.stringContaining(`${BEYOND} a link-local address`)]],
    ['check site ::ffff:127.0.0.1', withSite('::ffff:127.0.0.1'), [expect.stringContaining(`${BEYOND} an IPv4-mapped IPv6 address`)]],
    [
      'only an IPv6 check site for IPv4 gateways',
      withSite('2001:db8::1'),
      [
        'FILE: check_sites: no check site can be probed over IPv4, which gateways isp1, isp2 use; add an IPv4 address or a host name (A record)',
      ],
    ],
    ['check site 0.0.0.0', withSite('0.0.0.0'), [expect.stringContaining(`${BEYOND} an unspecified address`)]],
    ['check site 224.0.0.1', withSite('224.0.0.1'), [expect.stringContaining(`${BEYOND} a multicast address`)]],
    ['check site 239.255.255.250', withSite('239.255.255.250'), [expect.stringContaining(`${BEYOND} a multicast address`)]],
    ['check site 255.255.255.255', withSite('255.255.255.255'), [expect.stringContaining(`${BEYOND} the broadcast address`)]],
    // The size of the config.
    [
      '65 gateways',
      `gateways:\n${Array.from({ length: 65 }, (_, i) => `  g${i}: {ip: 192.0.2.${i + 1}, priority: ${i + 1}}\n`).join('')}check_sites: [198.51.100.1]\n`,
      ['FILE: gateways: expected at most 64 gateways, got 65'],
    ],
    [
      '33 check sites',
      GOOD.replace('[198.51.100.1]', `[${Array.from({ length: 33 }, (_, i) => `198.51.100.${i + 1}`).join(', ')}]`),
      ['FILE: check_sites: expected at most 32 check sites, got 33'],
    ],
    // YAML aliases.
    [
      'an undefined alias',
      `${GOOD}min_uptime: *later\n`,
      ['FILE: line 5, column 13: YAML alias error: *later names no anchor before it; define &later first'],
    ],
    [
      'an alias inside its own anchor',
      GOOD.replace('[198.51.100.1]', '&sites [198.51.100.1, *sites]'),
      ['FILE: line 4, column 36: YAML alias error: *sites is inside the value it names, which would never end'],
    ],
    [
      'an alias bomb',
      `a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n${GOOD}`,
      ['FILE: line 2, column 8: YAML alias error: the aliases expand to more than 100 copies; write the values out instead'],
    ],
    [
      'a merge key that merges no mapping',
      `${GOOD}probe: {<<: 5}\n`,
      [expect.stringMatching(/^FILE: line 5, column 9: YAML error: Merge sources must be maps/)],
    ],
  ])('refuses %s', async (_, yaml, expected) => {
    expect(await fixture.problems(yaml)).toEqual(expected);
  });

  // The timeout is a hang guard: checking each alias by walking the whole document took a minute.
  it('refuses twelve thousand aliases of one anchor, in one pass over the document', { timeout: 30_000 }, async () => {
    const yaml = `${GOOD}a: &a 1\nb: [${Array.from({ length: 12_000 }, () => '*a').join(', ')}]\n`;
    expect(await fixture.problems(yaml)).toEqual([
      'FILE: line 6, column 5: YAML alias error: the aliases expand to more than 100 copies; write the values out instead',
    ]);
  });

  it.each([
    ['NetGWM gateway names', GOOD.replace('isp1:', 'thebestone:').replace('isp2:', 'gprsbackup:')],
    [
      'names that are object internals, as ordinary names',
      `${GOOD.replace('isp1:', 'constructor:').replace('isp2:', 'toString:')}mode: toString\n`,
    ],
    ['names with "_", "-" and "." after the first character', withName('a_b-c.d9')],
    ['a 32-character name and a 15-byte dev', withName('a'.repeat(32)).replace('wan-2', 'x'.repeat(15))],
    ['the largest numbers', `${GOOD}min_uptime: 2147483\nhook_timeout: 2147483\ncheck_table: 4294967293\n`],
    ['the largest table by name', `${GOOD}check_table: top\n`],
    [
      '64 gateways',
      `gateways:\n${Array.from({ length: 64 }, (_, i) => `  g${i}: {ip: 192.0.2.${i + 1}, priority: ${i + 1}}\n`).join('')}check_sites: [198.51.100.1]\n`,
    ],
    [
      '64 gateways merging one mapping (within the alias limit)',
      `gateways:\n  g0: {<<: &base {ip: 192.0.2.1}, priority: 1}\n${Array.from({ length: 63 }, (_, i) => `  g${i + 1}: {<<: *base, priority: ${i + 2}}\n`).join('')}check_sites: [198.51.100.1]\n`,
    ],
  ])('accepts %s', async (_, yaml) => {
    await expect(fixture.load(yaml)).resolves.toBeDefined();
  });

  it('takes gateways named like object internals as ordinary names', async () => {
    const { config } = await fixture.load(
      `${GOOD.replace('isp1:', 'constructor:').replace('isp2:', 'hasOwnProperty:')}mode: hasOwnProperty\n`,
    );
    expect(config.gateways.map((gateway) => gateway.name)).toEqual(['constructor', 'hasOwnProperty']);
    expect(config.mode).toBe('hasOwnProperty');
  });
});

describe('the config file itself', () => {
  const load = (file: string) =>
    loadConfig(file).then(
      () => [],
      (error: unknown) => {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as ConfigError).problems;
      },
    );

  it('refuses a FIFO at once instead of waiting for a writer', async () => {
    const file = join(fixture.dir, 'fifo.yml');
    await mkfifo(file);
    expect(await load(file)).toEqual([`${file}: cannot read the config file: it is a FIFO, not a regular file`]);
  });

  it('refuses a directory and a device', async () => {
    const dir = join(fixture.dir, 'dir.yml');
    await mkdir(dir);
    expect(await load(dir)).toEqual([`${dir}: cannot read the config file: it is a directory, not a regular file`]);
    expect(await load('/dev/zero')).toEqual(['/dev/zero: cannot read the config file: it is a character device, not a regular file']);
  });

  it('refuses a file over 64 KiB (yaml takes seconds for a mapping of some thousand keys)', async () => {
    const file = join(fixture.dir, 'big.yml');
    await writeFile(file, `${GOOD}${'#'.repeat(64 << 10)}\n`);
    expect(await load(file)).toEqual([`${file}: cannot read the config file: it is larger than 64 KiB, the most accepted`]);
  });
});
