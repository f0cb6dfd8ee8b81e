/**
 * ICMP probe tests. Each network test runs the probe in a child process inside a throw-away
 * namespace pair (see fixtures/topology.ts); the vitest process never enters a namespace.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pingAddress, type PingResult } from '../../../src/probe/icmp.js';
import {
  pingInNamespace,
  runFixture,
  WITHOUT_CAPABILITIES,
  type GcOutcome,
  type LoadOutcome,
  type PingJob,
  type PingOutcome,
} from './fixtures/child.js';
import { at, NO_ROUTE_V6, TEST_MARK, TestNetwork } from './fixtures/topology.js';

const TIMEOUT_MS = 1000;
const echo = (address: string, extra: Partial<PingJob> = {}): PingJob => ({
  address,
  count: 2,
  timeoutMs: TIMEOUT_MS,
  ...extra,
});

function expectAnswered(result: PingResult): void {
  expect(result).toMatchObject({ answered: true, replies: 2, sent: 2 });
  expect(result.rttMs).toBeGreaterThan(0);
  expect(result.rttMs).toBeLessThan(TIMEOUT_MS);
  expect(result.error).toBeUndefined();
}

function expectSilent(result: PingResult): void {
  expect(result).toEqual({ address: result.address, answered: false, replies: 0, sent: 2 });
}

describe('pingAddress without a network', () => {
  it('rejects (does not throw) for input that is not an IP address', async () => {
    const pending = pingAddress('router.example', { count: 1, timeoutMs: 100 });
    await expect(pending).rejects.toThrow(/not an IP address/);
  });

  it('rejects options net-ping would silently reinterpret', async () => {
    await expect(pingAddress('192.0.2.1', { count: 1, timeoutMs: 0 })).rejects.toThrow(/timeoutMs/);
    await expect(pingAddress('192.0.2.1', { count: 0, timeoutMs: 100 })).rejects.toThrow(/count/);
  });

  it('resolves at once, having sent nothing, when the signal is already aborted', async () => {
    const result = await pingAddress('192.0.2.1', { count: 2, timeoutMs: 1000, signal: AbortSignal.abort() });
    expect(result).toEqual({ address: '192.0.2.1', answered: false, replies: 0, sent: 0 });
  });
});

describe('pingAddress in a namespace network', () => {
  const network = new TestNetwork();
  beforeAll(() => network.create());
  afterAll(() => network.destroy());

  const ping = (jobs: PingJob[]): Promise<PingOutcome[]> => pingInNamespace(network.prober, jobs);

  it('loadIcmp accepts root and explains itself to an unprivileged process', async () => {
    expect(await runFixture<LoadOutcome>(network.prober, 'load-icmp.ts', null)).toEqual({});
    const outcome = await runFixture<LoadOutcome>(network.prober, 'load-icmp.ts', null, { wrapper: WITHOUT_CAPABILITIES });
    expect(outcome.error).toMatch(/cannot open a raw ICMP socket.*CAP_NET_RAW/);
  });

  // Trap 1: with net-ping's shared default identifier, the silent targets' sessions would
  // take the answering targets' replies and report answered=true.
  it('keeps concurrent sessions apart: each target gets only its own replies', async () => {
    const kinds = ['answering', 'silent'] as const;
    const jobs = [1, 2, 3, 4, 5, 6].flatMap((host) => kinds.flatMap((kind) => [echo(at(kind, 'v4', host)), echo(at(kind, 'v6', host))]));
    const outcomes = await ping(jobs);
    expect(outcomes).toHaveLength(jobs.length);
    for (const [i, { result }] of outcomes.entries()) {
      expect(result.address).toBe(jobs[i]?.address);
      if (result.address.startsWith('198.18.1.') || result.address.startsWith('2001:db8:a::')) {
        expectAnswered(result);
      } else {
        expectSilent(result);
      }
    }
  });

  // Trap 2: an IPv4 session sends IPv6 targets to 0.0.0.0, i.e. the host itself, which answers.
  it('uses the address family of the target: only reachable targets answer', async () => {
    const [v4Up, v6Up, v4Silent, v6Silent, v6NoRoute] = await ping([
      echo(at('answering', 'v4', 9)),
      echo(at('answering', 'v6', 9)),
      echo(at('silent', 'v4', 9)),
      echo(at('silent', 'v6', 9)),
      echo(NO_ROUTE_V6),
    ]);
    expectAnswered(v4Up!.result);
    expectAnswered(v6Up!.result);
    expectSilent(v4Silent!.result);
    expectSilent(v6Silent!.result);
    expect(v6NoRoute!.result).toMatchObject({ answered: false, replies: 0, sent: 0 });
    expect(v6NoRoute!.result.error).toMatch(/^send: Network is unreachable/);
  });

  // Trap 3: net-ping never matches ICMPv6 errors to their echo, so an unreachable IPv6 target
  // looks exactly like a silent one. If the `error` assertion starts failing, net-ping learned to
  // report them: update the module comment.
  it('reports an IPv6 target behind an unreachable route as not answered after timeoutMs', async () => {
    const [v6, v4] = await ping([echo(at('unreachable', 'v6', 1)), echo(at('unreachable', 'v4', 1))]);
    expectSilent(v6!.result);
    // The IPv4 router's error is matched to its echo and reported.
    expect(v4!.result).toMatchObject({ answered: false, replies: 0, sent: 2 });
    expect(v4!.result.error).toMatch(/^Destination unreachable/);
  });

  // Trap 4: without the module's strong references, a GC right after pingHost() closes the
  // socket and the promises never settle; the child then reports `hung` (or gets killed).
  it('settles in-flight pings although the garbage collector runs meanwhile', async () => {
    const job = {
      addresses: [1, 2, 3].map((host) => at('silent', 'v4', host)).concat(at('silent', 'v6', 1)),
      timeoutMs: 1500,
      watchdogMs: 20_000, // a hang guard: the pings settle after timeoutMs
    };
    const outcome = await runFixture<GcOutcome>(network.prober, 'gc-ping.ts', job, {
      nodeFlags: ['--expose-gc'],
      hardTimeoutMs: 40_000,
    });
    expect(outcome.hung).toBe(false);
    for (const result of outcome.results ?? []) expectSilent(result);
    expect(outcome.results).toHaveLength(job.addresses.length);
  });

  it('applies mark: marked echoes follow the fwmark rule to table 100, unmarked ones do not', async () => {
    const targets = [at('marked', 'v4', 1), at('marked', 'v6', 1)];
    const outcomes = await ping([
      ...targets.map((address) => echo(address, { mark: TEST_MARK })),
      ...targets.map((address) => echo(address)),
    ]);
    const [marked4, marked6, plain4, plain6] = outcomes.map((outcome) => outcome.result);
    expectAnswered(marked4!);
    expectAnswered(marked6!);
    for (const plain of [plain4!, plain6!]) {
      expect(plain).toMatchObject({ answered: false, sent: 0 });
      expect(plain.error).toMatch(/^send: Network is unreachable/);
    }
  });

  it('resolves promptly when aborted, counting unanswered echoes as not answered', async () => {
    const [outcome] = await ping([echo(at('silent', 'v4', 20), { timeoutMs: 60_000, abortAfterMs: 500 })]);
    // Both echoes are normally out by then; on a starved machine the abort may come first.
    expect(outcome!.result).toEqual({ address: at('silent', 'v4', 20), answered: false, replies: 0, sent: outcome!.result.sent });
    expect(outcome!.result.sent).toBeLessThanOrEqual(2);
    expect(outcome!.elapsedMs).toBeLessThan(15_000); // a hang guard: unaborted, it would wait 60 s
  });
});
