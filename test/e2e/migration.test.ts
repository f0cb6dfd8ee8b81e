// Details a router migrated from NetGWM meets, run through the built binary: the config's `mode`
// wins over the mode file and `netgwm use` says so, `status` with a broken config, `history` of
// NetGWM's own log lines, a mode file naming no gateway, and journal lines under systemd.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Harness, NETGWM, waitFor } from './harness.js';
import { tempDir } from '../support/temp-dir.js';

async function netgwm(...args: string[]) {
  const result = await execa(process.execPath, [NETGWM, ...args], { reject: false, env: { NO_COLOR: '1' } });
  return { exitCode: result.exitCode, stdout: String(result.stdout), stderr: String(result.stderr) };
}

describe('a router migrated from NetGWM', () => {
  let dir: string;
  let config: string;
  const stateDir = () => join(dir, 'state');
  const modeFile = () => join(stateDir(), 'mode');
  const base = () =>
    `${[
      'gateways:',
      '  thebestone: {ip: 192.0.2.1, priority: 1}',
      '  notsogood: {ip: 192.0.2.5, dev: eth2, priority: 2}',
      'check_sites: [198.51.100.1]',
      'check_table: 194',
      `state_dir: ${stateDir()}`,
      `log_file: ${join(dir, 'netgwm.log')}`,
    ].join('\n')}\n`;
  const status = async () =>
    JSON.parse((await netgwm('status', '--json', '-c', config)).stdout) as {
      mode: string;
      mode_source: string;
      mode_file: string | null;
      gateways: Array<{ name: string; pinned: boolean; priority: number | null }>;
    };

  beforeEach(async () => {
    dir = await tempDir('migration');
    config = join(dir, 'netgwm.yml');
    await mkdir(stateDir());
    // The state a cycle leaves, so that status shows its table.
    const state = {
      version: 1,
      lastCycleAt: Date.now(),
      active: 'notsogood',
      gateways: { thebestone: { up: false, since: 0, checkedAt: Date.now() } },
      resolved: {},
    };
    await writeFile(join(stateDir(), 'state.json'), JSON.stringify(state));
  });

  it("without `mode` in the config, netgwm use decides (NetGWM's mode file)", async () => {
    await writeFile(config, base());
    expect(await netgwm('use', 'notsogood', '-c', config)).toMatchObject({ exitCode: 0, stderr: '' });
    expect(await readFile(modeFile(), 'utf8')).toBe('notsogood\n');
    expect(await status()).toMatchObject({
      mode: 'notsogood',
      mode_source: 'use',
      mode_file: 'notsogood',
      gateways: [{ pinned: false }, { pinned: true }],
    });
    expect((await netgwm('status', '-c', config)).stdout).toMatch(/^Active: notsogood {3}Mode: pinned to notsogood \(netgwm use\)$/m);
  });

  it('`mode` written in the config wins over a leftover mode file, even as auto; netgwm use says it cannot change it', async () => {
    await writeFile(modeFile(), 'notsogood\n'); // left over from NetGWM
    await writeFile(config, `${base()}mode: auto\n`);
    expect(await status()).toMatchObject({
      mode: 'auto',
      mode_source: 'config',
      mode_file: 'notsogood',
      gateways: [{ pinned: false }, { pinned: false }],
    });
    expect((await netgwm('status', '-c', config)).stdout).toContain("Mode: auto (the config's mode); it overrides `netgwm use notsogood`");

    const refused = await netgwm('use', 'thebestone', '-c', config);
    expect(refused).toEqual({
      exitCode: 1,
      stdout: '',
      stderr: `netgwm: use: ${config} sets \`mode: auto\`, which wins over \`netgwm use\` (as in NetGWM); nothing changed.\nRemove the \`mode\` line from ${config} to choose with \`netgwm use\`, or set the mode there.`,
    });
    expect(await readFile(modeFile(), 'utf8')).toBe('notsogood\n');
    expect(await netgwm('use', 'auto', '-c', config)).toEqual({
      exitCode: 0,
      stderr: '',
      stdout: `${config} already sets \`mode: auto\`, which wins over \`netgwm use\`; nothing to change`,
    });

    // Without the line, the file counts again.
    await writeFile(config, base());
    expect(await status()).toMatchObject({ mode: 'notsogood', mode_source: 'use' });
  });

  it('status with a config that does not load: the problems on stderr, then the last state; exit 2', async () => {
    await writeFile(config, `${base()}min_uptime: soon\nbogus: 1\n`);
    const result = await netgwm('status', '-c', config);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toBe(
      [`${config}: min_uptime: expected a number, got "soon"`, `${config}: bogus: unknown key; check its spelling (see netgwm(8))`].join(
        '\n',
      ),
    );
    expect(result.stdout).toMatch(
      new RegExp(
        `^${config} does not load \\(see above\\); below is the state the last cycle recorded\\.\\nActive: notsogood {3}Mode: auto\\n`,
      ),
    );
    expect(result.stdout).toMatch(/^ {3}thebestone +1 +via 192\.0\.2\.1 +down/m);
    const json = await netgwm('status', '--json', '-c', config);
    expect(json.exitCode).toBe(2);
    expect(JSON.parse(json.stdout)).toMatchObject({
      has_state: true,
      config_problems: [expect.stringContaining('min_uptime'), expect.stringContaining('bogus')],
      active: 'notsogood',
      gateways: [{ name: 'thebestone' }, { name: 'notsogood' }],
    });

    // Broken YAML: what can be read of it still counts; gateways it does not name come from the state.
    await writeFile(config, `state_dir: ${stateDir()}\ngateways: [unclosed\n`);
    const broken = await netgwm('status', '--json', '-c', config);
    expect(broken.exitCode).toBe(2);
    expect(broken.stderr).toMatch(/YAML syntax error/);
    expect(JSON.parse(broken.stdout)).toMatchObject({ has_state: true, gateways: [{ name: 'thebestone', priority: null, state: 'down' }] });
  });

  it("history names the gateways of NetGWM's own `route replaced to: via IP` lines from the config", async () => {
    await writeFile(config, base());
    const lines = [
      '2017-07-14 06:25:41,554 route replaced to: via 192.0.2.5 dev eth2',
      '2017-07-14 07:00:02,001 route replaced to: via 192.0.2.1',
      '2017-07-15 08:00:00,000 route replaced to: via 203.0.113.1',
    ];
    await writeFile(join(dir, 'netgwm.log'), `${lines.join('\n')}\n`);
    const result = await netgwm('history', '--json', '-c', config);
    expect(result.exitCode).toBe(0);
    expect((JSON.parse(result.stdout) as { entries: Array<{ to: string }> }).entries.map((entry) => entry.to)).toEqual([
      'notsogood',
      'thebestone',
      'via 203.0.113.1',
    ]);
  });
});

describe('cycles on a namespace network', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.create();
  });
  afterAll(async () => {
    await h?.destroy();
  });

  it('a mode file naming no gateway is ignored, and cron is told once', async () => {
    await mkdir(h.stateDir(), { recursive: true });
    await writeFile(join(h.stateDir(), 'mode'), 'dsl9\n'); // NetGWM's, for a gateway since renamed
    const first = await h.run();
    expect(first.exitCode).toBe(0);
    expect(first.stderr).toMatch(/^\S+ \S+ WARN .*\/mode names "dsl9", which is not a configured gateway; ignoring it/);
    expect(await h.run()).toMatchObject({ exitCode: 0, stderr: '' });
    expect(await h.currentGateway()).toBe('isp1');
    expect(JSON.parse((await h.netgwm(['status', '--json'])).stdout)).toMatchObject({
      mode: 'auto',
      mode_source: 'default',
      mode_file: 'dsl9',
    });
    await writeFile(join(h.stateDir(), 'mode'), 'auto\n');
  });

  it('the daemon writes journal priorities without the level word; the log file keeps it', async () => {
    const daemon = h.daemon(['--interval', '60'], { JOURNAL_STREAM: '8:4242' });
    let stdout = '';
    daemon.stdout?.on('data', (chunk: Buffer) => (stdout += String(chunk)));
    try {
      // Hang guard only: until the first cycle is done (logged at debug, as in the harness's config).
      expect(await waitFor(() => /^<7>cycle done /m.test(stdout), 20_000)).toBe(true);
    } finally {
      daemon.kill('SIGTERM');
      await daemon;
    }
    const lines = stdout.trimEnd().split('\n');
    expect(lines.filter((line) => !/^<[0-7]>/.test(line))).toEqual([]);
    expect(lines.filter((line) => /^<\d>(DEBUG|INFO|WARN|ERROR) /.test(line))).toEqual([]);
    expect(lines).toContainEqual(
      expect.stringMatching(/^<6>netgwm \S+ daemon started: watching every uplink continuously, housekeeping every 60 s/),
    );
    expect(await h.logLines()).toContainEqual(expect.stringMatching(/^\S+ \S+ INFO netgwm \S+ daemon started: /));
    expect(await h.logLines()).toContainEqual(expect.stringMatching(/^\S+ \S+ DEBUG cycle done /));
  });
});
