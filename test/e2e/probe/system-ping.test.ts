/**
 * The ping(8) fallback on the same throw-away namespace pair as the native prober
 * (fixtures/topology.ts): real iputils ping, run inside the prober namespace.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PingResult } from '../../../src/probe/icmp.js';
import { createSystemPing } from '../../../src/probe/system-ping.js';
import { createExec, type Exec } from '../../../src/system/exec.js';
import { at, NO_ROUTE_V6, TEST_MARK, TestNetwork } from './fixtures/topology.js';

const TIMEOUT_MS = 1000;
const network = new TestNetwork();
const inProber: Exec = (file, args, options) => createExec()('ip', ['netns', 'exec', network.prober, file, ...args], options);
const ping = createSystemPing(inProber);

/** One ping(8) run; `ms` is only for hang guards (timing figures belong to npm run bench). */
async function timed(
  address: string,
  options: { mark?: number; timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<{ result: PingResult; ms: number }> {
  const started = performance.now();
  const result = await ping(address, { count: 2, timeoutMs: TIMEOUT_MS, ...options });
  return { result, ms: performance.now() - started };
}

describe('system ping in a namespace network', () => {
  beforeAll(() => network.create());
  afterAll(() => network.destroy());

  // Without ping's 1 s gap between the echoes: pingArgs' `-i 0.01` (test/unit/probe/system-ping.test.ts).
  it('gets both replies from IPv4 and IPv6 targets', async () => {
    for (const address of [at('answering', 'v4', 1), at('answering', 'v6', 1)]) {
      const { result } = await timed(address);
      expect(result).toMatchObject({ address, answered: true, replies: 2, sent: 2 });
      expect(result.rttMs).toBeGreaterThan(0);
      expect(result.rttMs).toBeLessThan(TIMEOUT_MS);
      expect(result.error).toBeUndefined();
    }
  });

  it('gives up on a silent target, having sent both echoes', async () => {
    const { result, ms } = await timed(at('silent', 'v4', 1), { timeoutMs: 500 });
    expect(result).toEqual({ address: at('silent', 'v4', 1), answered: false, replies: 0, sent: 2 });
    expect(ms).toBeLessThan(10 * 500); // a hang guard: ping(8) waits -W 0.5 s
  });

  it('reports ICMP errors and local routing failures', async () => {
    const { result } = await timed(at('unreachable', 'v4', 1));
    expect(result).toMatchObject({ answered: false, replies: 0, sent: 2, error: '2 ICMP error(s) came back instead of replies' });
    const { result: noRoute } = await timed(NO_ROUTE_V6);
    expect(noRoute).toMatchObject({ answered: false, replies: 0, sent: 0, error: 'connect: Network is unreachable' });
  });

  it('applies mark: marked echoes follow the fwmark rule to table 100, unmarked ones do not', async () => {
    for (const address of [at('marked', 'v4', 1), at('marked', 'v6', 1)]) {
      expect((await timed(address, { mark: TEST_MARK })).result).toMatchObject({ answered: true, replies: 2 });
      expect((await timed(address)).result).toMatchObject({ answered: false, sent: 0, error: 'connect: Network is unreachable' });
    }
  });

  it('resolves promptly when aborted, counting unanswered echoes as not answered', async () => {
    const { result, ms } = await timed(at('silent', 'v4', 2), { timeoutMs: 60_000, signal: AbortSignal.timeout(100) });
    expect(result).toEqual({ address: at('silent', 'v4', 2), answered: false, replies: 0, sent: 0 });
    expect(ms).toBeLessThan(20_000); // a hang guard: far less than the 60 s ping would wait unaborted
  });

  it('refuses anything but an IP address, so nothing reaches ping as an option', async () => {
    await expect(ping('-f', { count: 1, timeoutMs: 100 })).rejects.toThrow('system ping: not an IP address: "-f"');
  });
});
