/**
 * Continuous echoes through each gateway's own probe mark, on the test network of
 * scripts/testnet/network.ts: in the router namespace, mark 0x100+i looks up table 1000+i whose
 * only route is a default via uplink i. The echoer runs in a child process inside the router
 * namespace (fixtures/echoer.ts); the vitest process never enters a namespace.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestNetwork } from '../../../scripts/testnet/network.js';
import type { EchoTarget, Round } from '../../../src/probe/echoes.js';
import { type EchoerJob, type EchoerOutcome, runFixture } from './fixtures/child.js';
import { at, TEST_MARK, TestNetwork as ProbeNetwork } from './fixtures/topology.js';

const INTERVAL_MS = 200;
// Far above a namespace round trip: a busy machine must not turn a late reply into a loss.
const TIMEOUT_MS = 1500;
const ROUNDS = 5;
const mark = (i: number): number => 0x100 + i;

let network: TestNetwork;

function targets(gateways: number[]): EchoTarget[] {
  return gateways.flatMap((i) => network.sites.map((address, k) => ({ gateway: `gw${i}`, site: `site${k + 1}`, address, mark: mark(i) })));
}

async function runEchoer(job: Pick<EchoerJob, 'method' | 'targets'> & Partial<EchoerJob>): Promise<EchoerOutcome> {
  // Hang guards only: 5 rounds take about 1 s + the timeout.
  const full: EchoerJob = { intervalMs: INTERVAL_MS, timeoutMs: TIMEOUT_MS, rounds: ROUNDS, watchdogMs: 30_000, ...job };
  return runFixture<EchoerOutcome>(network.routerNs, 'echoer.ts', full, { hardTimeoutMs: 90_000 });
}

function expectRounds(rounds: Round[] | undefined, answered: boolean, count = ROUNDS): void {
  expect(rounds?.length).toBeGreaterThanOrEqual(count);
  for (const round of rounds ?? []) {
    expect(round.echoes.map((echo) => echo.site)).toEqual(['site1', 'site2']);
    for (const echo of round.echoes) {
      expect(echo.answered).toBe(answered);
      if (answered) expect(echo.rttMs).toBeGreaterThan(0);
      else expect(echo.rttMs).toBeUndefined();
    }
  }
}

/** Reported in the order they were sent. */
function expectInOrder(rounds: Round[] | undefined): void {
  const at = (rounds ?? []).map((round) => round.at);
  expect(at).toEqual([...at].sort((a, b) => a - b));
}

/**
 * No ping(8) left and no more timers than before. (runFixture also proves that the child exited
 * by itself: a leftover would keep it alive until killed.)
 */
function expectNothingLeft(outcome: EchoerOutcome): void {
  expect(outcome.childrenAfterStop).toBe(0);
  const timers = (resources: string[]) => resources.filter((resource) => resource === 'Timeout').length;
  expect(timers(outcome.resourcesAfterStop)).toBeLessThanOrEqual(timers(outcome.resourcesBeforeStart));
}

beforeAll(async () => {
  network = await TestNetwork.create({ uplinks: 3, sites: 2 });
  const batch = network.uplinks.flatMap((u) => [
    `rule add fwmark ${mark(u.index)} lookup ${1000 + u.index} pref 900`,
    `route add default via ${u.gatewayIp} dev ${u.routerDev} table ${1000 + u.index}`,
  ]);
  await network.exec(network.routerNs, 'ip', ['-batch', '-'], { input: `${batch.join('\n')}\n` });
});
afterAll(() => network?.destroy());

describe.each(['icmp', 'ping'] as const)('echoes with method %s', (method) => {
  describe('one operator silent, one uplink down', () => {
    beforeAll(async () => {
      await network.failOperator(2);
      await network.setUplinkLink(3, false); // the kernel drops table 1003's route: no way out
    });
    afterAll(async () => {
      await network.restoreOperator(2);
      await network.setUplinkLink(3, true);
      await network.exec(network.routerNs, 'ip', ['route', 'replace', 'default', 'via', network.uplink(3).gatewayIp, 'table', '1003']);
    });

    it('fails only the rounds of those two gateways, keeps reporting all three, leaves nothing behind', async () => {
      const outcome = await runEchoer({ method, targets: targets([1, 2, 3]) });
      expect(outcome.complete).toBe(true);
      expectRounds(outcome.rounds.gw1, true);
      expectRounds(outcome.rounds.gw2, false);
      expectRounds(outcome.rounds.gw3, false);
      for (const gateway of ['gw1', 'gw2', 'gw3']) expectInOrder(outcome.rounds[gateway]);
      // Natively no process at all; with ping(8) one per site, but gateway 3's keep exiting.
      if (method === 'icmp') expect(outcome.childrenRunning).toBe(0);
      else expect(outcome.childrenRunning).toBeGreaterThanOrEqual(4);
      expectNothingLeft(outcome);
    });
  });

  it('follows new targets: a removed gateway stops, a changed one goes on with its new sites', async () => {
    const moved = targets([1]).map((target) => (target.site === 'site2' ? { ...target, site: 'other' } : target));
    const outcome = await runEchoer({ method, targets: targets([1, 2, 3]), next: [...moved, ...targets([2])] });
    expect(outcome.complete).toBe(true);
    expect(outcome.rounds.gw3?.length).toBe(outcome.roundsBeforeChange.gw3);
    const after = outcome.rounds.gw1?.slice(outcome.roundsBeforeChange.gw1) ?? [];
    expect(after.length).toBeGreaterThanOrEqual(ROUNDS);
    // Rounds sent before the change may still report the old sites; the last ones do not.
    expect(after.at(-1)?.echoes).toEqual([
      expect.objectContaining({ site: 'site1', answered: true }),
      expect.objectContaining({ site: 'other', answered: true }),
    ]);
    expectRounds(outcome.rounds.gw2, true);
    if (method === 'ping') {
      expect(outcome.childrenRunning).toBe(6);
      expect(outcome.childrenAfterChange).toBe(4);
    }
    expectNothingLeft(outcome);
  });

  it('sends a round at once on probeNow, then keeps the interval', async () => {
    // With a minute between rounds, a second round within the hang guard comes from probeNow.
    const outcome = await runEchoer({ method, targets: targets([1, 2]), intervalMs: 60_000, rounds: 1, probeNow: 'gw1' });
    expect(outcome.complete).toBe(true);
    expect(outcome.rounds.gw1).toHaveLength(2);
    expectRounds(outcome.rounds.gw1, true, 2);
    expect(outcome.rounds.gw2).toHaveLength(1);
    expectNothingLeft(outcome);
  });
});

// A gateway may have IPv4 and IPv6 sites: natively one session per family, both with its mark.
describe('echoes to IPv4 and IPv6 sites of one gateway', () => {
  const probeNetwork = new ProbeNetwork();
  beforeAll(() => probeNetwork.create());
  afterAll(() => probeNetwork.destroy());

  it.each(['icmp', 'ping'] as const)('with method %s: marked echoes answered, unmarked ones not', async (method) => {
    const sites = (gateway: string, mark: number) => [
      { gateway, site: 'v4', address: at('marked', 'v4', 1), mark },
      { gateway, site: 'v6', address: at('marked', 'v6', 1), mark },
    ];
    const job: EchoerJob = {
      method,
      targets: [...sites('marked', TEST_MARK), ...sites('unmarked', 0)],
      intervalMs: INTERVAL_MS,
      timeoutMs: TIMEOUT_MS,
      rounds: 3,
      watchdogMs: 30_000,
    };
    const outcome = await runFixture<EchoerOutcome>(probeNetwork.prober, 'echoer.ts', job, { hardTimeoutMs: 90_000 });
    expect(outcome.complete).toBe(true);
    for (const round of outcome.rounds.marked ?? [])
      expect(round.echoes.map((echo) => [echo.site, echo.answered])).toEqual([
        ['v4', true],
        ['v6', true],
      ]);
    for (const round of outcome.rounds.unmarked ?? [])
      expect(round.echoes.map((echo) => [echo.site, echo.answered])).toEqual([
        ['v4', false],
        ['v6', false],
      ]);
    expectNothingLeft(outcome);
  });
});
