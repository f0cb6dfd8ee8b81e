import { beforeAll, describe, expect, it } from 'vitest';
import { familyView, gatewayFamilies, pathKey } from '../../../src/config/families.js';
import { configFixture, type ConfigFixture } from './fixture.js';

let fixture: ConfigFixture;

beforeAll(async () => {
  fixture = await configFixture();
});

const SITES = 'check_sites: [198.51.100.1, 2001:db8:ff::1, check.example.net]\n';
const DUAL = `gateways:
  isp1: {ip: 192.0.2.1, ip6: 2001:db8:0:1::1, dev: wan1, priority: 1}
  isp2: {ip: 192.0.2.5, priority: 2}
  isp3: {ip6: fe80::1, dev: wan3, priority: 3}
  lte:  {dev: ppp0, priority: 4}
  cable: {ip: auto, ip6: auto, dev: wan5, priority: 5}
${SITES}`;

describe('families of a gateway', () => {
  it.each([
    ['ip only', { ip: '192.0.2.1' }, [4]],
    ['ip: auto', { auto: true as const }, [4]],
    ['dev only (auto)', { auto: true as const }, [4]],
    ['ip6 only', { ip6: '2001:db8::1' }, [6]],
    ['ip6: auto only', { auto6: true as const }, [6]],
    ['both', { ip: '192.0.2.1', ip6: '2001:db8::1' }, [4, 6]],
    ['nothing (a device gateway as compiled)', {}, [4]],
  ])('%s', (_name, gateway, families) => {
    expect(gatewayFamilies(gateway)).toEqual(families);
  });
});

describe('a dual-stack config', () => {
  it('compiles both addresses and lists the families', async () => {
    const { config } = await fixture.load(DUAL);
    expect(config.families).toEqual([4, 6]);
    expect(config.family).toBeUndefined();
    const byName = Object.fromEntries(config.gateways.map((gateway) => [gateway.name, gateway]));
    expect(byName.isp1).toMatchObject({ ip: '192.0.2.1', ip6: '2001:db8:0:1::1', dev: 'wan1' });
    expect(byName.isp3).toMatchObject({ ip6: 'fe80::1', dev: 'wan3' });
    expect(byName.isp3!.auto).toBeUndefined();
    expect(byName.lte).toMatchObject({ auto: true });
    expect(byName.cable).toMatchObject({ auto: true, auto6: true });
  });

  it('gives each family its gateways, next hops and check sites', async () => {
    const { config } = await fixture.load(DUAL);
    const four = familyView(config, 4);
    const six = familyView(config, 6);
    expect(four.family).toBeUndefined();
    expect(four.families).toEqual([4]);
    expect(four.gateways.map((gateway) => [gateway.name, gateway.ip, gateway.auto, gateway.family])).toEqual([
      ['isp1', '192.0.2.1', undefined, undefined],
      ['isp2', '192.0.2.5', undefined, undefined],
      ['lte', undefined, true, undefined],
      ['cable', undefined, true, undefined],
    ]);
    expect(four.check_sites).toEqual(['198.51.100.1', 'check.example.net']);
    expect(six.family).toBe(6);
    expect(six.gateways.map((gateway) => [gateway.name, gateway.ip, gateway.auto, gateway.family])).toEqual([
      ['isp1', '2001:db8:0:1::1', undefined, 6],
      ['isp3', 'fe80::1', undefined, 6],
      ['cable', undefined, true, 6],
    ]);
    expect(six.check_sites).toEqual(['2001:db8:ff::1', 'check.example.net']);
    // The same probe mark and table in both families: the kernel keeps their rules and tables apart.
    expect(six.gateways[0]!.probe).toEqual(four.gateways[0]!.probe);
    for (const gateway of [...four.gateways, ...six.gateways]) expect(gateway).not.toHaveProperty('ip6');
  });

  it('leaves a family automatic when the pinned gateway does not have it', async () => {
    const { config } = await fixture.load(`${DUAL}mode: isp2\n`);
    expect(familyView(config, 4).mode).toBe('isp2');
    expect(familyView(config, 6).mode).toBe('auto');
  });

  it('keeps an IPv4 config as it was', async () => {
    const { config } = await fixture.load(
      `gateways:\n  isp1: {ip: 192.0.2.1, priority: 1}\n  lte: {dev: ppp0, priority: 2}\ncheck_sites: [198.51.100.1]\n`,
    );
    expect(config.families).toEqual([4]);
    expect(familyView(config, 4)).toEqual(config);
  });

  it('knows an IPv6-only config', async () => {
    const { config } = await fixture.load(`gateways:\n  isp1: {ip6: 2001:db8:0:1::1, priority: 1}\ncheck_sites: [2001:db8:ff::1]\n`);
    expect(config.families).toEqual([6]);
    expect(familyView(config, 4).gateways).toEqual([]);
  });

  it('keys a path by gateway and family', () => {
    expect(pathKey('isp1', undefined)).toBe('isp1');
    expect(pathKey('isp1', 6)).toBe('isp1/6');
  });
});

describe('bad combinations, rejected with key and reason', () => {
  const v4 = 'isp2: {ip: 192.0.2.5, priority: 2}';
  it.each([
    [
      'an IPv6 address in ip',
      `gateways:\n  isp1: {ip: 2001:db8::1, priority: 1}\n${SITES}`,
      ['FILE: gateways.isp1.ip: expected an IPv4 address; an IPv6 gateway goes in `ip6`, got "2001:db8::1"'],
    ],
    [
      'an IPv4 address in ip6',
      `gateways:\n  isp1: {ip6: 192.0.2.1, priority: 1}\n${SITES}`,
      ['FILE: gateways.isp1.ip6: expected an IPv6 address, got "192.0.2.1"'],
    ],
    [
      'a link-local gateway without dev',
      `gateways:\n  isp1: {ip6: fe80::1, priority: 1}\n${SITES}`,
      ['FILE: gateways.isp1.ip6: a link-local address is one on every link: add the `dev` it is reached on'],
    ],
    [
      'a zone in ip6',
      `gateways:\n  isp1: {ip6: "fe80::1%wan1", priority: 1}\n${SITES}`,
      ['FILE: gateways.isp1.ip6: expected an IPv6 address without a zone; write the interface as the gateway\'s `dev`, got "fe80::1%wan1"'],
    ],
    [
      'ip6: auto without dev',
      `gateways:\n  isp1: {ip6: auto, priority: 1}\n${SITES}`,
      ["FILE: gateways.isp1.ip6: `ip6: auto` takes the router advertisement's gateway on the gateway's `dev`; add the `dev`"],
    ],
    [
      'IPv6 gateways and only IPv4 check sites',
      `gateways:\n  isp1: {ip6: 2001:db8::1, priority: 1}\n  ${v4}\ncheck_sites: [198.51.100.1]\n`,
      [
        'FILE: check_sites: no check site can be probed over IPv6, which gateways isp1 use; add an IPv6 address or a host name (AAAA record)',
      ],
    ],
    [
      'min_sites above what one family can probe',
      `gateways:\n  isp1: {ip: 192.0.2.1, ip6: 2001:db8::1, priority: 1}\ncheck_sites: [198.51.100.1, 198.51.100.2, 2001:db8:ff::1]\nprobe: {min_sites: 2}\n`,
      ['FILE: probe.min_sites: expected at most the number of check sites IPv6 can probe (1), got 2; no IPv6 round could ever be good'],
    ],
  ])('%s', async (_name, yaml, expected) => {
    expect(await fixture.problems(yaml)).toEqual(expected);
  });
});
