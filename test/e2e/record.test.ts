// The daemon's probe recording on a real network: what it writes through an outage and a carrier
// loss holds what the monitor saw — the lost echoes of every round of the failed uplink, and the
// link event — in the order it saw them.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProbeEvent } from '../../src/core/probe-events.js';
import { readRecording, recordingFiles } from '../../src/state/recording.js';
import { Harness, waitFor } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await Harness.create();
});
afterAll(async () => {
  await h?.destroy();
});

type Round = Extract<ProbeEvent, { kind: 'round' }>;
const lost = (round: Round) => round.echoes.length > 0 && round.echoes.every((echo) => !echo.answered);
const answered = (round: Round) => round.echoes.length > 0 && round.echoes.every((echo) => echo.answered && echo.rttMs !== undefined);

describe('probe recording (netgwm daemon with record)', () => {
  it('holds the rounds of an outage and the link event of a carrier loss', async () => {
    const file = join(h.dir, 'probes.rec');
    await h.writeConfig({ record: { file, max_size: '1M' } });
    const daemon = h.daemon(['--interval', '60']);
    let failedAt: number;
    let carrierLostAt: number;
    let stoppedAt: number;
    try {
      expect(await waitFor(async () => (await h.currentGateway()) === 'isp1')).toBe(true);
      await h.net.failOperator(1);
      failedAt = Date.now();
      expect(await waitFor(async () => (await h.currentGateway()) === 'isp2')).toBe(true);
      // Written every 10 s while the daemon runs: wait for a few rounds of the outage in the file.
      const outageRounds = async () =>
        (await readRecording(await recordingFiles(file)).catch(() => [])).filter(
          (event) => event.kind === 'round' && event.gateway === 'isp1' && event.at > failedAt + 100 && lost(event),
        ).length;
      expect(await waitFor(async () => (await outageRounds()) >= 3, 30_000)).toBe(true);
      carrierLostAt = Date.now();
      await h.net.setUplinkCarrier(3, false);
      expect(await waitFor(async () => (await h.logLines()).some((line) => /isp3 .*wan\.3 has no carrier/.test(line)))).toBe(true);
    } finally {
      stoppedAt = Date.now();
      daemon.kill('SIGTERM'); // the recorder writes what it holds when the daemon stops
      await daemon;
      await h.net.restoreOperator(1);
      await h.net.setUplinkCarrier(3, true);
    }
    const events = await readRecording(await recordingFiles(file));
    const time = (event: ProbeEvent) => (event.kind === 'round' ? event.settledAt : event.at);
    // In the order the daemon saw them.
    expect(events.map(time)).toEqual(events.map(time).sort((a, b) => a - b));

    const rounds = (gateway: string) => events.filter((event): event is Round => event.kind === 'round' && event.gateway === gateway);
    const isp1 = rounds('isp1');
    expect(isp1.filter((round) => round.at < failedAt).some(answered)).toBe(true);
    // Sent once the uplink dropped everything: every echo lost, settled no sooner than the timeout.
    const during = isp1.filter((round) => round.at > failedAt + 100 && round.at < carrierLostAt - 1000);
    expect(during.length).toBeGreaterThanOrEqual(3);
    expect(during.every(lost)).toBe(true);
    expect(during.every((round) => round.settledAt - round.at >= 500)).toBe(true);
    expect(during.every((round) => round.echoes.map((echo) => echo.site).join() === h.net.sites.join())).toBe(true);
    // The uplink the route moved to kept answering meanwhile.
    expect(rounds('isp2').filter((round) => round.at > failedAt + 100 && round.settledAt < carrierLostAt)).not.toHaveLength(0);
    expect(
      rounds('isp2')
        .filter((round) => round.at > failedAt + 100 && round.settledAt < carrierLostAt)
        .every(answered),
    ).toBe(true);

    const links = events.filter((event) => event.kind === 'link');
    expect(links).toContainEqual({ kind: 'link', gateway: 'isp3', dev: 'wan.3', up: false, at: expect.any(Number) });
    const carrier = links.find((event) => event.gateway === 'isp3' && !event.up)!;
    expect(carrier.at).toBeGreaterThanOrEqual(carrierLostAt);
    expect(carrier.at).toBeLessThanOrEqual(stoppedAt);
  });

  it('a reload that moves the recording closes the old file and records in the new one; one that removes it stops', async () => {
    const first = join(h.dir, 'first.rec');
    const second = join(h.dir, 'second.rec');
    const eventsOf = (file: string) => readRecording([file]).catch((): ProbeEvent[] => []);
    const time = (event: ProbeEvent | undefined) => (event?.kind === 'round' ? event.settledAt : (event?.at ?? Number.NaN));
    const reloads = async () => (await h.logLines()).filter((line) => /config reloaded/.test(line)).length;
    await h.writeConfig({ record: { file: first } });
    const daemon = h.daemon(['--interval', '60']);
    let moved: number;
    let movedSeen: number;
    let stoppedSeen: number;
    try {
      expect(await waitFor(async () => (await eventsOf(first)).length > 0, 30_000)).toBe(true);
      await h.writeConfig({ record: { file: second } });
      moved = Date.now();
      daemon.kill('SIGHUP');
      expect(await waitFor(async () => (await reloads()) === 1)).toBe(true);
      movedSeen = Date.now();
      expect(await waitFor(async () => (await eventsOf(second)).length > 0, 30_000)).toBe(true);
      await h.writeConfig({});
      daemon.kill('SIGHUP');
      expect(await waitFor(async () => (await reloads()) === 2)).toBe(true);
      stoppedSeen = Date.now();
    } finally {
      daemon.kill('SIGTERM');
      await daemon;
    }
    const [before, after] = [await eventsOf(first), await eventsOf(second)];
    // The old file holds what came before the reload, written when it happened (not 10 s later,
    // and not at the stop); the new one what came after, until recording was turned off.
    expect(time(before.at(-1))).toBeLessThanOrEqual(movedSeen);
    expect(time(before.at(-1))).toBeLessThanOrEqual(time(after[0]));
    expect(time(after[0])).toBeGreaterThanOrEqual(moved - 1000);
    expect(time(after.at(-1))).toBeLessThanOrEqual(stoppedSeen);
    expect((await h.logLines()).filter((line) => /probe recording/.test(line))).toEqual([]);
  });
});
