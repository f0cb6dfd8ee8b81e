import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readHosts, resolveSites, type ProbeTarget } from '../../../src/probe/resolve.js';
import { tempDir } from '../../support/temp-dir.js';

async function hostsFile(text: string): Promise<string> {
  const file = join(await tempDir('hosts'), 'hosts');
  await writeFile(file, text);
  return file;
}

describe('resolveSites', () => {
  it('passes IPs through, resolves names from the hosts file, remembers them', async () => {
    const file = await hostsFile('198.51.100.7  Check.Example  alias # comment\n2001:db8::1 check.example\n');
    const result = await resolveSites(['198.51.100.1', 'check.example'], {}, 300, file);
    expect(result.targets).toEqual([
      { site: '198.51.100.1', address: '198.51.100.1' },
      { site: 'check.example', address: '198.51.100.7' },
    ]);
    expect(result.resolved).toEqual({ 'check.example': '198.51.100.7' });
    expect(result.events).toEqual([]);
  });

  it('a name that does not resolve uses its last good address, and says so', async () => {
    const result = await resolveSites(['gone.invalid'], { 'gone.invalid': '198.51.100.9' }, 300, await hostsFile(''));
    expect(result.targets).toEqual([{ site: 'gone.invalid', address: '198.51.100.9' }]);
    expect(result.resolved).toEqual({ 'gone.invalid': '198.51.100.9' });
    expect(result.events).toEqual([expect.objectContaining({ kind: 'site-unresolved', site: 'gone.invalid', usingCached: '198.51.100.9' })]);
  });

  it('a site named like an object internal has no last good address unless one was remembered', async () => {
    const result = await resolveSites(['constructor'], {}, 300, await hostsFile(''));
    expect(result.targets).toEqual([{ site: 'constructor', skipped: 'name did not resolve' }]);
    expect(result.resolved).toEqual({});
  });

  it('a name never resolved is skipped, not counted as a site that did not answer', async () => {
    const result = await resolveSites(['never.invalid', '198.51.100.1'], {}, 300, await hostsFile(''));
    expect(result.targets[0]).toEqual({ site: 'never.invalid', skipped: 'name did not resolve' });
    expect(result.resolved).toEqual({});
  });
});

describe('resolveSites: sites the router would answer itself', () => {
  const OWN = new Set(['192.0.2.2']);
  const LOOPBACK = 'not a loopback address (the router answers it itself, so every gateway would look up)';
  const MINE = 'not an address of this router (the router answers it itself, so every gateway would look up)';
  it.each([
    ['a name that resolves to loopback', 'loop.example', {}, { site: 'loop.example', skipped: 'resolved to 127.0.1.1' }, { address: '127.0.1.1', why: LOOPBACK }],
    ['… with a last good address', 'loop.example', { 'loop.example': '198.51.100.9' }, { site: 'loop.example', address: '198.51.100.9' }, { address: '127.0.1.1', why: LOOPBACK, usingCached: '198.51.100.9' }],
    ['a name that resolves to an address of the router', 'me.example', {}, { site: 'me.example', skipped: 'resolved to 192.0.2.2' }, { address: '192.0.2.2', why: MINE }],
    ['a name that resolves to 0.0.0.0 (a blocking resolver)', 'blocked.example', {}, { site: 'blocked.example', skipped: 'resolved to 0.0.0.0' }, { address: '0.0.0.0', why: expect.stringContaining('not an unspecified address') }],
    ['an address of the router', '192.0.2.2', {}, { site: '192.0.2.2', skipped: MINE }, { address: '192.0.2.2', why: MINE }],
  ])('%s is skipped with an error event', async (_, site, remembered, target: ProbeTarget, event) => {
    const hosts = await hostsFile('127.0.1.1 loop.example\n192.0.2.2 me.example\n0.0.0.0 blocked.example\n');
    const result = await resolveSites([site], remembered, 300, hosts, OWN);
    expect(result.targets).toEqual([target]);
    expect(result.resolved).toEqual(target.address && target.address !== site ? { [site]: target.address } : {});
    expect(result.events).toEqual([{ kind: 'site-unusable', site, ...event }]);
  });

  it('a last good address that is now the router\'s own is not used either', async () => {
    const result = await resolveSites(['gone.invalid'], { 'gone.invalid': '192.0.2.2' }, 300, await hostsFile(''), new Set(['192.0.2.2']));
    expect(result.targets).toEqual([{ site: 'gone.invalid', skipped: 'name did not resolve' }]);
    expect(result.resolved).toEqual({});
  });
});

describe('readHosts', () => {
  it('reads IPv4 entries, first one wins, case-insensitive', async () => {
    const hosts = await readHosts(await hostsFile('192.0.2.1 a b\n192.0.2.2 A\n::1 c\n'));
    expect([...hosts]).toEqual([['a', '192.0.2.1'], ['b', '192.0.2.1']]);
  });
});
