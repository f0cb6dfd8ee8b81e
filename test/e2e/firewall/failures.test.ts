// When the firewall cannot be changed: bad configs change nothing; a broken nft or a ruleset nft
// rejects leaves the old rules, is logged, and is retried; a table removed by someone else comes
// back at the next verification; and cycles with nothing to change run no nft or conntrack at all.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Harness, NETGWM, waitFor } from '../harness.js';
import { activeMarks, logSince, markedGateways } from './support.js';

const which = async (command: string) => (await execa('sh', ['-c', `command -v ${command}`])).stdout.trim();

describe('firewall failures and no-change cycles (3 uplinks)', () => {
  let h: Harness;
  let realNft: string;
  let realConntrack: string;
  const config = (extra: Record<string, unknown> = {}) => ({
    gateways: markedGateways(h.net),
    min_uptime: 0,
    nftables: {},
    conntrack: { flush: 'all' },
    ...extra,
  });
  /** A directory holding stub commands, put first on PATH. */
  async function stubs(name: string, scripts: Record<string, string>): Promise<Record<string, string>> {
    const dir = join(h.dir, name);
    await mkdir(dir, { recursive: true });
    for (const [command, body] of Object.entries(scripts)) await writeFile(join(dir, command), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
    return { PATH: `${dir}:${process.env.PATH}` };
  }
  const marks = async () => (await activeMarks(h.net)).map((rule) => rule.mark);
  const lastSwitch = async () =>
    (JSON.parse(await readFile(join(h.stateDir(), 'state.json'), 'utf8')) as { lastSwitch: unknown }).lastSwitch;

  beforeAll(async () => {
    h = await Harness.create();
    [realNft, realConntrack] = [await which('nft'), await which('conntrack')];
    await h.writeConfig(config());
    expect(await h.run()).toMatchObject({ exitCode: 0, stderr: '' });
    expect(await marks()).toEqual([1, 1]);
  });
  afterAll(async () => {
    await h?.destroy();
  });

  it('a config with colliding marks, a mark outside the mask or a missing table: clear error, nothing changes', async () => {
    const snapshot = async () =>
      Promise.all([
        h.net.exec(h.net.routerNs, 'ip', ['route', 'show', 'default']).then((r) => r.stdout),
        h.net.exec(h.net.routerNs, 'ip', ['rule', 'list']).then((r) => r.stdout),
        h.net.exec(h.net.routerNs, 'nft', ['list', 'ruleset']).then((r) => r.stdout),
        readFile(join(h.stateDir(), 'state.json'), 'utf8'),
      ]);
    const before = await snapshot();
    const gateways = markedGateways(h.net) as Record<string, Record<string, unknown>>;
    const bad: Array<[Record<string, unknown>, string]> = [
      [
        { ...gateways, isp2: { ...gateways.isp2, mark: 1 } },
        'gateways.isp2.mark: 0x1 is also the mark of gateway "isp1"; give every gateway its own mark',
      ],
      [
        { ...gateways, isp2: { ...gateways.isp2, mark: 0x100 } },
        'gateways.isp2.mark: expected a mark inside nftables.mask (0xff), got 0x100',
      ],
      [{ ...gateways, isp1: { ...gateways.isp1, table: 'nosuch' } }, 'gateways.isp1.table: routing table "nosuch" is not declared'],
    ];
    await h.net.failOperator(1); // a good config would switch now
    try {
      for (const [badGateways, message] of bad) {
        await h.writeConfig(config({ gateways: badGateways }));
        const result = await h.run();
        expect(result.exitCode).toBe(2);
        expect(result.stderr).toContain(`${h.configFile()}: ${message}`);
        expect(await snapshot()).toEqual(before);
      }
    } finally {
      await h.net.restoreOperator(1);
      await h.writeConfig(config());
    }
  });

  it('a broken nft: the route still switches, the old rules stay, the error is logged, the switch is partial; the next cycle loads', async () => {
    const broken = await stubs('broken', { nft: 'echo "nft: simulated breakage (test stub)" >&2\nexit 1' });
    await h.net.failOperator(1);
    try {
      const logFrom = (await h.logLines()).length;
      const result = await h.netgwm(['run'], { env: broken });
      expect(result.exitCode).toBe(0);
      expect(await h.currentGateway()).toBe('isp2');
      expect(await marks()).toEqual([1, 1]); // the old table, untouched
      expect(await logSince(h, logFrom, /route replaced|nftables|conntrack:|partial|hook /)).toEqual([
        expect.stringMatching(/^INFO route replaced to: via 192\.0\.2\.5 dev wan-2 \(isp2, was isp1: isp1 down/),
        'ERROR nftables: could not load table inet netgwm; the rules loaded before stay, the next cycle retries: `nft -c -f -` failed with exit code 1: nft: simulated breakage (test stub)',
        expect.stringMatching(/^INFO conntrack: deleted \d+ flow entries \(flush: all\)$/),
        'ERROR switch to isp2 is partial: nftables failed (see above); the route did change and hooks still run',
        expect.stringMatching(/^INFO hook .*50-record exited 0/),
      ]);
      expect(result.stderr).toContain('ERROR switch to isp2 is partial');
      expect(await lastSwitch()).toMatchObject({ to: 'isp2', incomplete: ['nftables'] });

      await h.netgwm(['run'], { env: broken });
      expect(await marks()).toEqual([1, 1]); // still broken: still the old rules, retried and logged again
      expect(await logSince(h, logFrom, /could not load table/)).toHaveLength(2);

      const fixed = (await h.logLines()).length;
      expect(await h.run()).toMatchObject({ exitCode: 0, stderr: '' });
      expect(await marks()).toEqual([2, 2]);
      expect(await logSince(h, fixed, /nftables/)).toEqual([
        'INFO nftables: loaded table inet netgwm; new connections get mark 0x2 (isp2)',
      ]);
    } finally {
      await h.net.restoreOperator(1);
    }
  });

  it("a ruleset nft rejects: nft's own message is logged, the old rules stay, the next cycle loads", async () => {
    // Passes every call to the real nft, but with a typo in any file it is given.
    const rejecting = await stubs('rejecting', {
      nft: `case " $* " in *" -f "*) sed 's/policy accept;/policy acept;/' | exec ${realNft} "$@" ;; *) exec ${realNft} "$@" ;; esac`,
    });
    const logFrom = (await h.logLines()).length;
    await h.netgwm(['run'], { env: rejecting }); // isp1 is back and stable (min_uptime 0): fails back
    expect(await h.currentGateway()).toBe('isp1');
    expect(await marks()).toEqual([2, 2]);
    const [failure] = await logSince(h, logFrom, /could not load table/);
    expect(failure).toMatch(
      /^ERROR nftables: could not load table inet netgwm; the rules loaded before stay, the next cycle retries: `nft -c -f -` failed with exit code 1: .*Error: syntax error.*acept/,
    );

    await h.run();
    expect(await marks()).toEqual([1, 1]);
  });

  it('a table someone removed: left alone until verify_interval passes, then loaded again', async () => {
    await h.net.exec(h.net.routerNs, 'nft', ['delete', 'table', 'inet', 'netgwm']);
    await h.run(); // verified less than verify_interval (300 s) ago: no nft command, so not noticed yet
    expect((await h.net.exec(h.net.routerNs, 'nft', ['list', 'tables'])).stdout).not.toContain('netgwm');

    await h.writeConfig(config({ nftables: { verify_interval: 0 } }));
    const logFrom = (await h.logLines()).length;
    expect(await h.run()).toMatchObject({ exitCode: 0 });
    expect(await marks()).toEqual([1, 1]);
    expect(await logSince(h, logFrom, /nftables/)).toEqual([
      'WARN nftables: table inet netgwm was changed or removed by someone else; loading it again',
      'INFO nftables: loaded table inet netgwm; new connections get mark 0x1 (isp1)',
    ]);
    await h.writeConfig(config());
  });

  it('50 daemon cycles and 20 cron runs with nothing to change run no nft or conntrack command', { timeout: 240_000 }, async () => {
    const counting = await stubs('counting', {
      nft: `echo "nft $*" >> "$(dirname "$0")/calls"\nexec ${realNft} "$@"`,
      conntrack: `echo "conntrack $*" >> "$(dirname "$0")/calls"\nexec ${realConntrack} "$@"`,
    });
    const calls = async () => (await readFile(join(h.dir, 'counting', 'calls'), 'utf8').catch(() => '')).split('\n').filter(Boolean);
    const cyclesDone = async () => (await h.logLines()).filter((line) => line.includes('DEBUG cycle done')).length;

    const before = await cyclesDone();
    const daemon = execa(
      'ip',
      [
        'netns',
        'exec',
        h.net.routerNs,
        'env',
        `PATH=${counting.PATH}`,
        `NETGWM_LOCK_DIR=${h.lockDir()}`,
        process.execPath,
        NETGWM,
        'daemon',
        '--interval',
        '0.02',
        '-c',
        h.configFile(),
      ],
      { reject: false, stdin: 'ignore', timeout: 170_000 },
    );
    try {
      expect(await waitFor(async () => (await cyclesDone()) - before >= 50, 150_000)).toBe(true);
    } finally {
      daemon.kill('SIGTERM');
      await daemon;
    }
    for (let run = 0; run < 20; run++) expect(await h.netgwm(['run'], { env: counting })).toMatchObject({ exitCode: 0, stderr: '' });
    expect((await cyclesDone()) - before).toBeGreaterThanOrEqual(70);
    expect(await calls()).toEqual([]);

    // The stubs do count: a cycle that verifies the table runs exactly one nft command.
    await h.writeConfig(config({ nftables: { verify_interval: 0 } }));
    await h.netgwm(['run'], { env: counting });
    expect(await calls()).toEqual(['nft -t list table inet netgwm']);
    await h.writeConfig(config());
  });
});
