// The echoer's own logic, with a fake ping(8) (fixtures/fake-ping.mjs) as a real child process:
// rounds from the k-th echo of every site, stand-ins for a site whose ping keeps dying, restarts.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Round, type SystemPingFactory, startEchoer } from '../../../src/probe/echoes.js';
import { waitFor } from '../../e2e/harness.js';
import { tempDir } from '../../support/temp-dir.js';

const fakePing = fileURLToPath(new URL('fixtures/fake-ping.mjs', import.meta.url));
let log: string;
beforeEach(async () => {
  log = join(await tempDir('echoes'), 'starts');
  process.env.FAKE_PING_LOG = log;
});
afterEach(() => {
  delete process.env.FAKE_PING_LOG;
});

const ping: SystemPingFactory = (args) => ({ file: process.execPath, args: [fakePing, ...args] });
const target = (site: string, address: string) => ({ gateway: 'gw', site, address, mark: 1 });

describe('startEchoer with ping(8)', () => {
  it("pairs the sites' echoes into rounds; a site whose ping keeps dying counts as lost and is restarted", async () => {
    const rounds: Round[] = [];
    const echoer = startEchoer(
      [target('up', '192.0.2.1'), target('dead', '192.0.2.99')],
      { intervalMs: 50, timeoutMs: 1000 },
      (gateway, round) => {
        expect(gateway).toBe('gw');
        rounds.push(round);
      },
      ping,
    );
    const starts = (address: string) =>
      existsSync(log)
        ? readFileSync(log, 'utf8')
            .split('\n')
            .filter((line) => line === address).length
        : 0;
    const replied = () =>
      existsSync(log)
        ? readFileSync(log, 'utf8')
            .split('\n')
            .filter((line) => line.startsWith('192.0.2.1 replied')).length
        : 0;
    // Which reply of 'up' the last round carries (the fake's round trip is its sequence number / 1000).
    const lastReported = () => Math.round((rounds.at(-1)?.echoes[0]?.rttMs ?? 0) * 1000);
    try {
      // A hang guard: 5 rounds and a restart come within about 2 s.
      expect(await waitFor(() => rounds.length >= 5 && starts('192.0.2.99') >= 2, 30_000)).toBe(true);
      // The rounds keep up with 'up' (its replies waiting for the dead site's stand-ins would
      // leave them behind for good): within an echo or two of the last reply.
      expect(await waitFor(() => lastReported() >= replied() - 2, 30_000)).toBe(true);
    } finally {
      await echoer.stop();
    }
    for (const round of rounds) {
      expect(round.echoes).toEqual([
        { site: 'up', answered: true, rttMs: expect.any(Number) },
        { site: 'dead', answered: false },
      ]);
    }
    expect(starts('192.0.2.1')).toBe(1);
  });
});

describe('startEchoer refuses what cannot work', () => {
  const start = (targets: Parameters<typeof startEchoer>[0], intervalMs = 200, timeoutMs = 400) =>
    startEchoer(targets, { intervalMs, timeoutMs }, () => undefined, ping);

  it.each([
    [[target('a', 'example.org')], /echo target "gw"\/"a": address must be an IP address, got "example.org"/],
    [[target('a', '-f')], /address must be an IP address, got "-f"/],
    [[{ ...target('a', '192.0.2.1'), mark: -1 }], /echo target "gw"\/"a": mark must be a 32-bit unsigned integer, got -1/],
    [
      [target('a', '192.0.2.1'), { ...target('b', '192.0.2.2'), mark: 2 }],
      /"gw"\/"b": mark 2 differs from the gateway's other targets' mark 1/,
    ],
    [[target('a', '192.0.2.1'), target('a', '192.0.2.2')], /"gw"\/"a": the site is listed twice/],
  ])('%j', (targets, message) => {
    expect(() => start(targets)).toThrow(message);
  });

  it('refuses intervals ping(8) refuses and timeouts net-ping would change', () => {
    expect(() => start([], 1)).toThrow('startEchoer: intervalMs must be >= 2, got 1');
    expect(() => start([], 200, 0)).toThrow('startEchoer: timeoutMs must be >= 1, got 0');
  });
});
