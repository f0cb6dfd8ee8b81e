// `netgwm health` (keepalived's track_script) on the real router: from the saved state only.
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Harness, waitFor } from './harness.js';

let h: Harness;

beforeAll(async () => {
  h = await Harness.create();
});
afterAll(async () => {
  await h?.destroy();
});
beforeEach(async () => {
  for (const uplink of h.net.uplinks) await h.net.restoreOperator(uplink.index);
  await rm(h.stateDir(), { recursive: true, force: true });
});

describe('netgwm health', () => {
  it('fails before any cycle saved a state', async () => {
    expect(await h.netgwm(['health'])).toEqual({
      exitCode: 1,
      stdout: 'fail: no state saved yet (is the daemon or cron running?)',
      stderr: '',
    });
  });

  it('is ok with a fresh state and a gateway up, naming the one in use', async () => {
    expect((await h.run()).exitCode).toBe(0);
    expect(await h.netgwm(['health'])).toEqual({ exitCode: 0, stdout: 'ok: isp1 up', stderr: '' });
  });

  it('fails when no gateway is usable', async () => {
    for (const uplink of h.net.uplinks) await h.net.failOperator(uplink.index);
    expect((await h.run()).exitCode).toBe(0);
    expect(await h.netgwm(['health'])).toEqual({ exitCode: 1, stdout: 'fail: no usable gateway', stderr: '' });
  });

  it('fails when the state is older than cluster.max_state_age (no cycle ran since)', async () => {
    await h.writeConfig({ cluster: { max_state_age: 120 } });
    try {
      expect((await h.run()).exitCode).toBe(0);
      // netgwm's clock moves on 10 minutes: the state it saved is that old (plus the real time the test took).
      h.advanceClock(600);
      const stale = await h.netgwm(['health']);
      expect(stale.exitCode).toBe(1);
      expect(stale.stdout).toMatch(/^fail: state is 6\d\d s old$/);
    } finally {
      await h.writeConfig({});
    }
  });

  it('follows the daemon: fails once it saw every uplink go down, is ok again when one is back', async () => {
    const daemon = h.daemon(['--interval', '60']);
    try {
      const health = async () => (await h.netgwm(['health'])).stdout;
      expect(await waitFor(async () => (await health()) === 'ok: isp1 up')).toBe(true);
      for (const uplink of h.net.uplinks) await h.net.failOperator(uplink.index);
      expect(await waitFor(async () => (await health()) === 'fail: no usable gateway')).toBe(true);
      expect((await h.netgwm(['health'])).exitCode).toBe(1);
      await h.net.restoreOperator(2);
      expect(await waitFor(async () => (await health()) === 'ok: isp2 up')).toBe(true);
    } finally {
      daemon.kill('SIGTERM');
      await daemon;
    }
  });
});
