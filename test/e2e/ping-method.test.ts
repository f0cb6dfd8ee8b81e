// The whole CLI probing with iputils ping(8) (probe.method: ping) on the namespace network: the
// same decisions as with native ICMP, and ping really is what ran, with the mark and no 1 s gap.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Harness } from './harness.js';

// Records each argv, then runs the real ping.
const RECORDING_PING = `#!/bin/sh
echo "$*" >> "$0.calls"
exec /usr/bin/ping "$@"
`;

describe('probe.method: ping (3 uplinks, 2 sites)', () => {
  let h: Harness;
  let env: Record<string, string>;
  let pingCalls: () => Promise<string[]>;
  const run = () => h.netgwm(['run'], { env });

  beforeAll(async () => {
    h = await Harness.create();
    await h.writeConfig({ probe: { method: 'ping', timeout: 0.5 } });
    const bin = join(h.dir, 'bin');
    await mkdir(bin);
    await writeFile(join(bin, 'ping'), RECORDING_PING, { mode: 0o755 });
    env = { PATH: `${bin}:${process.env.PATH}` };
    pingCalls = async () => (await readFile(join(bin, 'ping.calls'), 'utf8').catch(() => '')).split('\n').filter(Boolean);
  });
  afterAll(async () => {
    await h?.destroy();
  });

  it('first start picks the primary, probing each site with one marked ping', async () => {
    const result = await run();
    expect(result).toMatchObject({ exitCode: 0, stdout: '', stderr: '' });
    expect(await h.currentGateway()).toBe('isp1');
    expect(await h.hookCalls()).toEqual([{ event: 'start', args: ['isp1', '192.0.2.1', 'wan_1', 'NaN', 'NaN', 'NaN'] }]);
    // Every gateway is probed at once, each with its own probe mark (isp1: 0x4e470001).
    const throughIsp1 = (await pingCalls()).filter((call) => call.includes(' -m 1313275905 '));
    expect(throughIsp1.sort()).toEqual(h.net.sites.map((site) => `-n -q -c 2 -i 0.01 -W 0.5 -m 1313275905 ${site}`));
    expect(await h.probePaths()).toEqual(h.expectedProbePaths());
  });

  it('a healthy run changes nothing and pings without the 1 s gap between echoes (-i 0.01)', async () => {
    const before = (await pingCalls()).length;
    const result = await run();
    expect(result).toMatchObject({ exitCode: 0, stdout: '', stderr: '' });
    const calls = (await pingCalls()).slice(before);
    // The current gateway's two sites; the worse gateways' probes, started at once, may have been ended unneeded.
    expect(calls.filter((call) => call.includes(' -m 1313275905 '))).toHaveLength(2);
    for (const call of calls) expect(call).toMatch(/^-n -q -c 2 -i 0\.01 -W 0\.5 -m 131327590[567] /);
  });

  it('primary fails: moves to the backup; it returns: back after min_uptime', async () => {
    await h.net.failOperator(1);
    expect((await run()).stderr).toMatch(/WARN gateway isp1 down: 0\/2 sites answered/);
    expect(await h.currentGateway()).toBe('isp2');
    expect((await h.hookCalls()).at(-1)).toEqual({ event: 'switch', args: ['isp2', '192.0.2.5', 'wan-2', 'isp1', '192.0.2.1', 'wan_1'] });

    await h.net.restoreOperator(1);
    await run();
    expect(await h.currentGateway()).toBe('isp2');
    h.advanceClock(61); // min_uptime
    await run();
    expect(await h.currentGateway()).toBe('isp1');
    expect(await h.probePaths()).toEqual(h.expectedProbePaths());
  });
});
