import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LOOKUP_RETRY } from '../../../src/core/lookups.js';
import type { LookupFailure } from '../../../src/core/types.js';
import { readHosts, resolveSites, type ProbeTarget, type SiteMemory } from '../../../src/probe/resolve.js';
import { tempDir } from '../../support/temp-dir.js';

async function hostsFile(text: string): Promise<string> {
  const file = join(await tempDir('hosts'), 'hosts');
  await writeFile(file, text);
  return file;
}

/** A DNS that answers from a table and records what it was asked; names it lacks fail. */
function fakeDns(answers: Record<string, string> = {}) {
  const asked: string[] = [];
  const lookup = async (name: string) => {
    asked.push(name);
    const address = Object.hasOwn(answers, name) ? answers[name] : undefined;
    if (!address) throw new Error(`queryA ENOTFOUND ${name}`);
    return address;
  };
  return { asked, answers, lookup };
}

const empty = (): SiteMemory => ({ resolved: {}, unresolved: {} });
const MINUTE = 60_000;

describe('resolveSites', () => {
  it('passes IPs through, resolves names from the hosts file before DNS, remembers them', async () => {
    const file = await hostsFile('198.51.100.7  Check.Example  alias # comment\n2001:db8::1 check.example\n');
    const dns = fakeDns({ 'dns.example': '198.51.100.8' });
    const result = await resolveSites(['198.51.100.1', 'check.example', 'dns.example'], empty(), {
      now: 0,
      timeoutMs: 300,
      hostsFile: file,
      lookup: dns.lookup,
    });
    expect(result.targets).toEqual([
      { site: '198.51.100.1', address: '198.51.100.1' },
      { site: 'check.example', address: '198.51.100.7' },
      { site: 'dns.example', address: '198.51.100.8' },
    ]);
    expect(dns.asked).toEqual(['dns.example']);
    expect(await result.settled).toEqual({
      resolved: { 'check.example': '198.51.100.7', 'dns.example': '198.51.100.8' },
      unresolved: {},
      events: [],
    });
  });

  it('a name that stops resolving uses its last good address and is reported once, with the retry time', async () => {
    const dns = fakeDns();
    const memory = { resolved: { 'gone.invalid': '198.51.100.9' }, unresolved: {} };
    const result = await resolveSites(['gone.invalid'], memory, {
      now: 5_000,
      timeoutMs: 300,
      hostsFile: await hostsFile(''),
      lookup: dns.lookup,
    });
    expect(result.targets).toEqual([{ site: 'gone.invalid', address: '198.51.100.9' }]);
    expect(await result.settled).toEqual({
      resolved: { 'gone.invalid': '198.51.100.9' },
      unresolved: {
        'gone.invalid': { since: 5_000, failures: 1, retryAt: 5_000 + LOOKUP_RETRY.firstMs, error: 'queryA ENOTFOUND gone.invalid' },
      },
      events: [
        {
          kind: 'site-unresolved',
          site: 'gone.invalid',
          error: 'queryA ENOTFOUND gone.invalid',
          usingCached: '198.51.100.9',
          retryInMs: LOOKUP_RETRY.firstMs,
        },
      ],
    });
  });

  it('a site named like an object internal has no last good address unless one was remembered', async () => {
    const result = await resolveSites(['constructor'], empty(), {
      now: 0,
      timeoutMs: 300,
      hostsFile: await hostsFile(''),
      lookup: fakeDns().lookup,
    });
    expect(result.targets).toEqual([{ site: 'constructor', skipped: 'name did not resolve' }]);
    expect((await result.settled).resolved).toEqual({});
  });

  it('a name never resolved is skipped, not counted as a site that did not answer', async () => {
    const result = await resolveSites(['never.invalid', '198.51.100.1'], empty(), {
      now: 0,
      timeoutMs: 300,
      hostsFile: await hostsFile(''),
      lookup: fakeDns().lookup,
    });
    expect(result.targets[0]).toEqual({ site: 'never.invalid', skipped: 'name did not resolve' });
    expect((await result.settled).resolved).toEqual({});
  });

  // Cycle by cycle, each with the memory the one before left and the clock the test sets.
  it('retries a failing name with back-off, silently, and reports once when it resolves again', async () => {
    const hosts = await hostsFile('');
    const dns = fakeDns();
    const rows: Array<{ at: number; asked: boolean; events: string[] }> = [];
    let memory = empty();
    for (const minute of [0, 0.5, 1, 2, 3, 4, 5, 7, 8, 15]) {
      if (minute === 15) dns.answers['check.example'] = '198.51.100.3';
      const before = dns.asked.length;
      const result = await resolveSites(['check.example'], memory, {
        now: minute * MINUTE,
        timeoutMs: 300,
        hostsFile: hosts,
        lookup: dns.lookup,
      });
      const settled = await result.settled;
      rows.push({ at: minute, asked: dns.asked.length > before, events: settled.events.map((event) => event.kind) });
      memory = settled;
    }
    expect(rows).toEqual([
      { at: 0, asked: true, events: ['site-unresolved'] },
      { at: 0.5, asked: false, events: [] },
      { at: 1, asked: true, events: [] }, // retry after 1 min: fails, next in 2
      { at: 2, asked: false, events: [] },
      { at: 3, asked: true, events: [] }, // fails, next in 4
      { at: 4, asked: false, events: [] },
      { at: 5, asked: false, events: [] },
      { at: 7, asked: true, events: [] }, // fails, next in 8 (at 15)
      { at: 8, asked: false, events: [] },
      { at: 15, asked: true, events: ['site-resolved'] },
    ]);
    expect(memory).toEqual({
      resolved: { 'check.example': '198.51.100.3' },
      unresolved: {},
      events: [expect.objectContaining({ failedForMs: 15 * MINUTE, failures: 4 })],
    });
  });

  it('a retry runs in the background: the cycle probes without waiting for it, and learns the answer at the end', async () => {
    let answer: (address: string) => void = () => undefined;
    const lookup = () => new Promise<string>((resolve) => (answer = resolve));
    const failing: LookupFailure = { since: 0, failures: 2, retryAt: 3 * MINUTE, error: 'timeout' };
    const memory = { resolved: { 'slow.example': '198.51.100.4' }, unresolved: { 'slow.example': failing } };
    // The lookup has not answered, yet the targets are there: the remembered address.
    const result = await resolveSites(['slow.example'], memory, {
      now: 4 * MINUTE,
      timeoutMs: 300,
      hostsFile: await hostsFile(''),
      lookup,
    });
    expect(result.targets).toEqual([{ site: 'slow.example', address: '198.51.100.4' }]);
    answer('198.51.100.5');
    expect(await result.settled).toEqual({
      resolved: { 'slow.example': '198.51.100.5' },
      unresolved: {},
      events: [{ kind: 'site-resolved', site: 'slow.example', address: '198.51.100.5', failedForMs: 4 * MINUTE, failures: 2 }],
    });
  });

  it('a name that resolved before is probed at its last address while it is looked up again', async () => {
    let answer: (address: string) => void = () => undefined;
    const lookup = () => new Promise<string>((resolve) => (answer = resolve));
    const result = await resolveSites(
      ['moved.example'],
      { resolved: { 'moved.example': '198.51.100.4' }, unresolved: {} },
      { now: 0, timeoutMs: 300, hostsFile: await hostsFile(''), lookup },
    );
    expect(result.targets).toEqual([{ site: 'moved.example', address: '198.51.100.4' }]);
    answer('198.51.100.5');
    expect(await result.settled).toEqual({ resolved: { 'moved.example': '198.51.100.5' }, unresolved: {}, events: [] });
  });

  it('a failing name that appears in the hosts file resolves at once, back-off or not', async () => {
    const failing: LookupFailure = { since: MINUTE, failures: 1, retryAt: 10 * MINUTE, error: 'timeout' };
    const dns = fakeDns();
    const result = await resolveSites(
      ['check.example'],
      { resolved: {}, unresolved: { 'check.example': failing } },
      { now: 2 * MINUTE, timeoutMs: 300, hostsFile: await hostsFile('198.51.100.6 check.example\n'), lookup: dns.lookup },
    );
    expect(result.targets).toEqual([{ site: 'check.example', address: '198.51.100.6' }]);
    expect(dns.asked).toEqual([]);
    expect((await result.settled).events).toEqual([
      { kind: 'site-resolved', site: 'check.example', address: '198.51.100.6', failedForMs: MINUTE, failures: 1 },
    ]);
  });

  it('forgets names that are no longer check sites', async () => {
    const failing: LookupFailure = { since: 0, failures: 1, retryAt: MINUTE, error: 'timeout' };
    const result = await resolveSites(
      ['198.51.100.1'],
      { resolved: { 'old.example': '198.51.100.2' }, unresolved: { 'old.example': failing } },
      { now: 0, timeoutMs: 300 },
    );
    expect(await result.settled).toEqual({ resolved: {}, unresolved: {}, events: [] });
  });
});

describe('resolveSites: sites the router would answer itself', () => {
  const OWN = new Set(['192.0.2.2']);
  const LOOPBACK = 'not a loopback address (the router answers it itself, so every gateway would look up)';
  const MINE = 'not an address of this router (the router answers it itself, so every gateway would look up)';
  it.each([
    [
      'a name that resolves to loopback',
      'loop.example',
      {},
      { site: 'loop.example', skipped: 'resolved to 127.0.1.1' },
      { address: '127.0.1.1', why: LOOPBACK },
    ],
    [
      '… with a last good address',
      'loop.example',
      { 'loop.example': '198.51.100.9' },
      { site: 'loop.example', address: '198.51.100.9' },
      { address: '127.0.1.1', why: LOOPBACK, usingCached: '198.51.100.9' },
    ],
    [
      'a name that resolves to an address of the router',
      'me.example',
      {},
      { site: 'me.example', skipped: 'resolved to 192.0.2.2' },
      { address: '192.0.2.2', why: MINE },
    ],
    [
      'a name that resolves to 0.0.0.0 (a blocking resolver)',
      'blocked.example',
      {},
      { site: 'blocked.example', skipped: 'resolved to 0.0.0.0' },
      { address: '0.0.0.0', why: expect.stringContaining('not an unspecified address') },
    ],
    ['an address of the router', '192.0.2.2', {}, { site: '192.0.2.2', skipped: MINE }, { address: '192.0.2.2', why: MINE }],
  ])('%s is skipped with an error event', async (_, site, remembered, target: ProbeTarget, event) => {
    const hosts = await hostsFile('127.0.1.1 loop.example\n192.0.2.2 me.example\n0.0.0.0 blocked.example\n');
    const memory = { resolved: remembered as Record<string, string>, unresolved: {} };
    const result = await resolveSites([site], memory, {
      now: 0,
      timeoutMs: 300,
      hostsFile: hosts,
      lookup: fakeDns().lookup,
      ownAddresses: OWN,
    });
    expect(result.targets).toEqual([target]);
    const settled = await result.settled;
    expect(settled.resolved).toEqual(target.address && target.address !== site ? { [site]: target.address } : {});
    expect(settled.events).toEqual([{ kind: 'site-unusable', site, ...event }]);
  });

  it("a last good address that is now the router's own is not used either", async () => {
    const memory = { resolved: { 'gone.invalid': '192.0.2.2' }, unresolved: {} };
    const result = await resolveSites(['gone.invalid'], memory, {
      now: 0,
      timeoutMs: 300,
      hostsFile: await hostsFile(''),
      lookup: fakeDns().lookup,
      ownAddresses: new Set(['192.0.2.2']),
    });
    expect(result.targets).toEqual([{ site: 'gone.invalid', skipped: 'name did not resolve' }]);
    expect((await result.settled).resolved).toEqual({});
  });
});

describe('readHosts', () => {
  it('reads IPv4 entries, first one wins, case-insensitive', async () => {
    const hosts = await readHosts(await hostsFile('192.0.2.1 a b\n192.0.2.2 A\n::1 c\n'));
    expect([...hosts]).toEqual([
      ['a', '192.0.2.1'],
      ['b', '192.0.2.1'],
    ]);
  });
});
