// The `record` key: off unless asked for, its defaults, sizes, and every refusal.
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_RECORD_BYTES, parseSize } from '../../../src/config/record.js';
import { configFixture, type ConfigFixture } from './fixture.js';

let fixture: ConfigFixture;

beforeAll(async () => {
  fixture = await configFixture();
});

const GOOD = `gateways: {isp1: {ip: 192.0.2.1, priority: 1}}\ncheck_sites: [198.51.100.1]\nstate_dir: /var/lib/netgwm\n`;
const load = async (extra: string) => (await fixture.load(GOOD + extra)).config;
const problems = (extra: string) => fixture.problems(GOOD + extra);

describe('record', () => {
  it('is off when absent (a NetGWM config) and when false', async () => {
    expect((await load('')).record).toBe(false);
    expect((await load('record: false\n')).record).toBe(false);
  });

  it('true or an empty mapping: probes.rec in state_dir, 16 MiB', async () => {
    const expected = { file: '/var/lib/netgwm/probes.rec', max_size: DEFAULT_RECORD_BYTES };
    expect((await load('record: true\n')).record).toEqual(expected);
    expect((await load('record: {}\n')).record).toEqual(expected);
  });

  it('takes a file (relative to the config) and a size in K, M, G or bytes', async () => {
    expect((await load('record: {file: rec/probes, max_size: 4M}\n')).record).toEqual({
      file: join(fixture.dir, 'rec/probes'),
      max_size: 4 << 20,
    });
    expect((await load('record: {max_size: 65536}\n')).record).toMatchObject({ max_size: 65536 });
    expect([parseSize('512K'), parseSize('1.5M'), parseSize('1g'), parseSize('2 MB')]).toEqual([
      512 << 10,
      1.5 * 2 ** 20,
      1 << 30,
      2 << 20,
    ]);
  });

  it('refuses sizes it cannot read or out of bounds, and unknown keys', async () => {
    expect(await problems('record: {size: 4M}\n')).toEqual(['FILE: record.size: unknown key; check its spelling (see netgwm(8))']);
    expect(await problems('record: {max_size: 4 megabytes}\n')).toEqual([
      'FILE: record.max_size: expected a size from 64K to 1G such as 16M, 512K or a number of bytes, got "4 megabytes"',
    ]);
    expect(await problems('record: {max_size: 1K}\n')).toEqual([
      'FILE: record.max_size: expected a size from 64K to 1G such as 16M, 512K or a number of bytes, got "1K"',
    ]);
    expect(await problems('record: {max_size: 2G}\n')).toHaveLength(1);
    expect(await problems('record: {file: "a\\0b"}\n')).toEqual([
      'FILE: record.file: expected a path of printable characters, got "a\\u0000b"',
    ]);
  });
});
