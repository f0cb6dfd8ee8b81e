// The example hooks in post-replace.d/, run with NetGWM's six arguments as netgwm runs them: the
// programs they call are stand-ins on PATH that record what they got (logger, sendmail,
// systemctl), a local HTTP server (curl), or the real thing in a throw-away namespace (conntrack).
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const HOOKS = fileURLToPath(new URL('../../post-replace.d', import.meta.url));
const START = ['isp1', '192.0.2.1', 'wan_1', 'NaN', 'NaN', 'NaN'];
const SWITCH = ['isp2', '192.0.2.5', 'wan-2', 'isp1', '192.0.2.1', 'wan_1'];
const REASON = 'isp1 down, 0/2 sites answered';

// Records its arguments (one call per line) and its standard input in files beside itself.
const RECORDING_STUB = `#!/bin/sh
echo "$*" >> "$0.calls"
[ -t 0 ] || cat >> "$0.stdin"
`;
// systemctl: only the units named in $ACTIVE_UNITS are running.
const SYSTEMCTL_STUB = `#!/bin/sh
echo "$*" >> "$0.calls"
if [ "$1" = --quiet ] && [ "$2" = is-active ]; then
  case " $ACTIVE_UNITS " in *" $3 "*) exit 0 ;; *) exit 3 ;; esac
fi
`;

let stubs: string;
beforeAll(async () => {
  stubs = await mkdtemp(join(tmpdir(), 'netgwm-hook-stubs-'));
  for (const name of ['logger', 'sendmail']) await writeFile(join(stubs, name), RECORDING_STUB, { mode: 0o755 });
  await writeFile(join(stubs, 'systemctl'), SYSTEMCTL_STUB, { mode: 0o755 });
});
afterAll(() => rm(stubs, { recursive: true, force: true }));

/** Runs a hook like netgwm does: no shell, six arguments, a small fixed environment. */
function runHook(hook: string, args: string[], env: Record<string, string> = {}, prefix: string[] = []) {
  const argv = [...prefix, join(HOOKS, hook), ...args];
  return execa(argv[0]!, argv.slice(1), {
    env: { PATH: `${stubs}:/usr/sbin:/usr/bin:/sbin:/bin`, NETGWM_REASON: REASON, ...env },
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
    timeout: 15_000,
  });
}

/** Reads and clears what a stub recorded. */
async function recorded(stub: string, what: 'calls' | 'stdin' = 'calls'): Promise<string> {
  const file = join(stubs, `${stub}.${what}`);
  const text = await readFile(file, 'utf8').catch(() => '');
  await rm(file, { force: true });
  return text;
}

describe('10-syslog', () => {
  it('logs start and switch as one line each, with the reason', async () => {
    expect(await runHook('10-syslog', START)).toMatchObject({ exitCode: 0, stderr: '' });
    expect(await runHook('10-syslog', SWITCH)).toMatchObject({ exitCode: 0, stderr: '' });
    expect((await recorded('logger')).split('\n')).toEqual([
      `--tag netgwm-hook --priority daemon.notice -- default route set via gateway isp1 (192.0.2.1 dev wan_1): ${REASON}`,
      `--tag netgwm-hook --priority daemon.notice -- default route moved to gateway isp2 (192.0.2.5 dev wan-2) from isp1 (192.0.2.1 dev wan_1): ${REASON}`,
      '',
    ]);
  });
});

describe('10-syslog on an IPv6 switch', () => {
  it('says the IPv6 default route moved', async () => {
    const v6 = ['isp2', '2001:db8:0:2::1', 'wan-2', 'isp1', 'fe80::1', 'wan_1'];
    expect(await runHook('10-syslog', v6, { NETGWM_FAMILY: '6' })).toMatchObject({ exitCode: 0, stderr: '' });
    expect(await recorded('logger')).toBe(
      `--tag netgwm-hook --priority daemon.notice -- IPv6 default route moved to gateway isp2 (2001:db8:0:2::1 dev wan-2) from isp1 (fe80::1 dev wan_1): ${REASON}\n`,
    );
  });
});

describe('40-mail', () => {
  it('mails the recipient in MAIL_TO a subject that tells start from switch', async () => {
    expect(await runHook('40-mail', START, { MAIL_TO: 'noc@example.org' })).toMatchObject({ exitCode: 0, stderr: '' });
    expect(await recorded('sendmail')).toBe('-t -oi\n');
    expect(await recorded('sendmail', 'stdin')).toMatch(
      /^To: noc@example\.org\nSubject: netgwm on \S+: default route set via isp1\n.*\n\nnetgwm set the default route via gateway isp1 \(192\.0\.2\.1 dev wan_1\)\.\nReason: isp1 down/,
    );
    await runHook('40-mail', SWITCH);
    expect(await recorded('sendmail', 'stdin')).toMatch(
      /^To: root\nSubject: netgwm on \S+: uplink changed from isp1 to isp2\n[\s\S]*moved the default route from gateway isp1 \(192\.0\.2\.1 dev wan_1\) to isp2 \(192\.0\.2\.5 dev wan-2\)\./,
    );
  });
});

describe('30-restart-vpn', () => {
  it('restarts the running tunnels after a switch, leaves stopped ones alone, does nothing at start', async () => {
    const env = { VPN_UNITS: 'wg-quick@wg0 openvpn-client@office', ACTIVE_UNITS: 'wg-quick@wg0' };
    expect(await runHook('30-restart-vpn', START, env)).toMatchObject({ exitCode: 0, stdout: '' });
    expect(await recorded('systemctl')).toBe('');
    const result = await runHook('30-restart-vpn', SWITCH, env);
    expect(result).toMatchObject({ exitCode: 0, stderr: '' });
    expect(result.stdout).toBe('restarted wg-quick@wg0 after the move from isp1 to isp2\nopenvpn-client@office is not running; left alone');
    expect(await recorded('systemctl')).toBe(
      '--quiet is-active wg-quick@wg0\nrestart wg-quick@wg0\n--quiet is-active openvpn-client@office\n',
    );
  });
});

describe('30-restart-vpn by family', () => {
  it.each([
    ['an IPv6 switch, tunnels over IPv4: left alone', { NETGWM_FAMILY: '6' }, ''],
    [
      'an IPv6 switch, tunnels over IPv6: restarted',
      { NETGWM_FAMILY: '6', VPN_FAMILY: '6' },
      '--quiet is-active wg-quick@wg0\nrestart wg-quick@wg0\n',
    ],
    ['an IPv4 switch, tunnels over IPv6: left alone', { NETGWM_FAMILY: '4', VPN_FAMILY: '6' }, ''],
  ])('%s', async (_name, family, calls) => {
    const env = { VPN_UNITS: 'wg-quick@wg0', ACTIVE_UNITS: 'wg-quick@wg0', ...family };
    expect(await runHook('30-restart-vpn', SWITCH, env)).toMatchObject({ exitCode: 0, stderr: '' });
    expect(await recorded('systemctl')).toBe(calls);
  });
});

describe('50-webhook', () => {
  let url: string;
  let status = 204;
  const requests: Array<{ method?: string; type?: string; body: unknown }> = [];
  const server = createServer((request: IncomingMessage, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      requests.push({ method: request.method, type: request.headers['content-type'], body: JSON.parse(body) });
      response.writeHead(status).end();
    });
  });
  beforeAll(async () => {
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook?token=s3cret`;
  });
  afterAll(() => new Promise<void>((done) => server.close(() => done())));

  it('posts JSON with null for unknown values, escaping what needs it', async () => {
    const result = await runHook('50-webhook', START, { WEBHOOK_URL: url, NETGWM_REASON: 'a "quoted" \\ reason' });
    expect(result).toMatchObject({ exitCode: 0, stdout: 'posted the start message', stderr: '' });
    await runHook('50-webhook', SWITCH, { WEBHOOK_URL: url });
    expect(requests).toEqual([
      {
        method: 'POST',
        type: 'application/json',
        body: {
          event: 'start',
          host: expect.any(String),
          new: { name: 'isp1', ip: '192.0.2.1', dev: 'wan_1' },
          old: { name: null, ip: null, dev: null },
          reason: 'a "quoted" \\ reason',
        },
      },
      {
        method: 'POST',
        type: 'application/json',
        body: {
          event: 'switch',
          host: expect.any(String),
          new: { name: 'isp2', ip: '192.0.2.5', dev: 'wan-2' },
          old: { name: 'isp1', ip: '192.0.2.1', dev: 'wan_1' },
          reason: REASON,
        },
      },
    ]);
  });

  it('fails, without printing the URL, when the server answers with an error', async () => {
    status = 500;
    const result = await runHook('50-webhook', SWITCH, { WEBHOOK_URL: url });
    expect(result.exitCode).toBe(22);
    expect(result.stderr).toMatch(/The requested URL returned error: 500/);
    expect(result.stdout + result.stderr).not.toContain('s3cret');
  });
});

describe('20-flush-udp-conntrack (in a throw-away namespace)', () => {
  const ns = `ngwhook${randomBytes(3).toString('hex')}`;
  const inNs = (file: string, args: string[]) => execa('ip', ['netns', 'exec', ns, file, ...args], { timeout: 10_000 });
  // A UDP flow from the LAN host, NATed onto the uplink whose router address is `natAddress`.
  const udpFlow = (sport: number, natAddress: string) => [
    '-I',
    '-p',
    'udp',
    '-s',
    '203.0.113.2',
    '-d',
    '198.51.100.1',
    '--sport',
    String(sport),
    '--dport',
    '53',
    '--reply-src',
    '198.51.100.1',
    '--reply-dst',
    natAddress,
    '--reply-port-src',
    '53',
    '--reply-port-dst',
    String(sport),
    '-t',
    '600',
  ];
  const flows = [
    udpFlow(5001, '192.0.2.2'), // NATed onto the old uplink: must go
    udpFlow(5002, '192.0.2.6'), // NATed onto the new uplink: stays
    ['-I', '-p', 'udp', '-s', '203.0.113.2', '-d', '203.0.113.1', '--sport', '5003', '--dport', '53', '-t', '600'], // LAN: stays
    [
      '-I',
      '-p',
      'tcp',
      '-s',
      '203.0.113.2',
      '-d',
      '198.51.100.1',
      '--sport',
      '5004',
      '--dport',
      '443',
      '--reply-src',
      '198.51.100.1',
      '--reply-dst',
      '192.0.2.2',
      '--reply-port-src',
      '443',
      '--reply-port-dst',
      '5004',
      '--state',
      'ESTABLISHED',
      '-u',
      'SEEN_REPLY',
      '-t',
      '600',
    ], // TCP: stays
  ];
  const insertFlows = async () => {
    for (const flow of flows) await inNs('conntrack', flow);
  };
  const sourcePorts = async () => {
    const { stdout } = await inNs('conntrack', ['-L']);
    return [...stdout.matchAll(/^(\w+) .*? sport=(\d+)/gm)].map((match) => `${match[1]} ${match[2]}`).sort();
  };

  let made = false; // never delete a namespace this test did not make
  beforeAll(async () => {
    await execa('ip', ['netns', 'add', ns]);
    made = true;
    const script = [
      'link set lo up',
      'link add wan_1 type veth peer name wan-2',
      'addr add 192.0.2.2/30 dev wan_1',
      'addr add 192.0.2.6/30 dev wan-2',
      'link set wan_1 up',
      'link set wan-2 up',
    ];
    await execa('ip', ['-n', ns, '-batch', '-'], { input: `${script.join('\n')}\n` });
    await insertFlows();
  });
  afterAll(async () => {
    if (made) await execa('ip', ['netns', 'del', ns], { reject: false });
  });

  it('does nothing at start', async () => {
    expect(await runHook('20-flush-udp-conntrack', START, {}, ['ip', 'netns', 'exec', ns])).toMatchObject({
      exitCode: 0,
      stdout: '',
      stderr: '',
    });
    expect(await sourcePorts()).toEqual(['tcp 5004', 'udp 5001', 'udp 5002', 'udp 5003']);
  });

  it('after a switch deletes only the UDP flows NATed onto the old uplink', async () => {
    const result = await runHook('20-flush-udp-conntrack', SWITCH, {}, ['ip', 'netns', 'exec', ns]);
    expect(result).toMatchObject({ exitCode: 0, stderr: '' });
    expect(result.stdout).toMatch(/: 1 flow entries have been deleted\.$/);
    expect(await sourcePorts()).toEqual(['tcp 5004', 'udp 5002', 'udp 5003']);
    // Nothing left to delete is not a failure.
    expect(await runHook('20-flush-udp-conntrack', SWITCH, {}, ['ip', 'netns', 'exec', ns])).toMatchObject({ exitCode: 0, stderr: '' });
  });

  it('deletes every UDP flow, as NetGWM did, when the old device is gone', async () => {
    await inNs('conntrack', flows[0]!);
    const gone = [...SWITCH.slice(0, 5), 'ppp0'];
    const result = await runHook('20-flush-udp-conntrack', gone, {}, ['ip', 'netns', 'exec', ns]);
    expect(result).toMatchObject({ exitCode: 0, stderr: '' });
    expect(result.stdout).toMatch(/: 3 flow entries have been deleted\.$/);
    expect(await sourcePorts()).toEqual(['tcp 5004']);
  });
});
