import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readHosts, resolveSites } from '../../../src/probe/resolve.js';
import { tempDir } from '../../support/temp-dir.js';

async function hostsFile(text: string): Promise<string> {
  const file = join(await tempDir('hosts'), 'hosts');
  await writeFile(file, text);
  return file;
}

const HOSTS = '198.51.100.7 check.example\n2001:db8:ff::7 check.example v6only.example\nfe80::1%eth0 zoned.example\n';

describe('resolving IPv6 check sites (family 6)', () => {
  it('readHosts(file, 6) takes the IPv6 entries only, no zoned ones; the default stays IPv4', async () => {
    const file = await hostsFile(HOSTS);
    expect(await readHosts(file, 6)).toEqual(
      new Map([
        ['check.example', '2001:db8:ff::7'],
        ['v6only.example', '2001:db8:ff::7'],
      ]),
    );
    expect(await readHosts(file)).toEqual(new Map([['check.example', '198.51.100.7']]));
  });

  it('resolveSites with family 6: IPv6 literals pass, names come from the IPv6 hosts entries, then the (AAAA) lookup', async () => {
    const asked: string[] = [];
    const lookup = async (name: string) => {
      asked.push(name);
      if (name === 'dns.example') return '2001:db8:ff::8';
      throw new Error(`queryAaaa ENOTFOUND ${name}`);
    };
    const result = await resolveSites(
      ['2001:db8:ff::1', 'check.example', 'dns.example', 'none.example'],
      { resolved: {}, unresolved: {} },
      {
        now: 0,
        timeoutMs: 300,
        family: 6,
        hostsFile: await hostsFile(HOSTS),
        lookup,
        ownAddresses: new Set(['2001:db8:0:1::2']),
      },
    );
    expect(result.targets).toEqual([
      { site: '2001:db8:ff::1', address: '2001:db8:ff::1' },
      { site: 'check.example', address: '2001:db8:ff::7' },
      { site: 'dns.example', address: '2001:db8:ff::8' },
      { site: 'none.example', skipped: 'name did not resolve' },
    ]);
    expect(asked).toEqual(['dns.example', 'none.example']);
    expect((await result.settled).resolved).toEqual({ 'check.example': '2001:db8:ff::7', 'dns.example': '2001:db8:ff::8' });
  });

  it('an IPv6 site that is an address of the router itself is skipped', async () => {
    const result = await resolveSites(
      ['2001:db8:0:1::2'],
      { resolved: {}, unresolved: {} },
      {
        now: 0,
        timeoutMs: 300,
        family: 6,
        ownAddresses: new Set(['2001:db8:0:1::2']),
      },
    );
    expect(result.targets).toEqual([{ site: '2001:db8:0:1::2', skipped: expect.stringMatching(/^not an address of this router/) }]);
  });
});
