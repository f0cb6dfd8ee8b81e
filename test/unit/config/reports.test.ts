// status_dir, metrics_file, metrics_listen and metrics_allow_remote: defaults and every refusal.
import { chmod, chown, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { isLoopback, parseListen, sameListen } from '../../../src/config/reports.js';
import { formatHash, hashPassword } from '../../../src/web/password-file.js';
import { configFixture, type ConfigFixture } from './fixture.js';

let fixture: ConfigFixture;

beforeAll(async () => {
  fixture = await configFixture();
});

const GOOD = `gateways: {isp1: {ip: 192.0.2.1, priority: 1}}\ncheck_sites: [198.51.100.1]\n`;
const load = async (extra: string) => (await fixture.load(GOOD + extra)).config;
const problems = (extra: string) => fixture.problems(GOOD + extra);

describe('report keys', () => {
  it('default: NetGWM status files in /run/netgwm, no metrics', async () => {
    const config = await load('');
    expect(config).toMatchObject({ status_dir: '/run/netgwm', metrics_allow_remote: false });
    expect(config.metrics_file).toBeUndefined();
    expect(config.metrics_listen).toBeUndefined();
  });

  it('takes a metrics file, a loopback listen address and status_dir: false', async () => {
    const config = await load(
      'status_dir: false\nmetrics_file: /var/lib/prometheus/node-exporter/netgwm.prom\nmetrics_listen: "[::1]:9559"\n',
    );
    expect(config).toMatchObject({
      status_dir: false,
      metrics_file: '/var/lib/prometheus/node-exporter/netgwm.prom',
      metrics_listen: '[::1]:9559',
    });
  });

  it('refuses relative paths, a metrics file node_exporter would not read, and a bad address', async () => {
    expect(await problems('status_dir: run/netgwm\nmetrics_file: /tmp/netgwm.txt\nmetrics_listen: 127.0.0.1\n')).toEqual([
      'FILE: status_dir: expected an absolute path, got "run/netgwm"',
      'FILE: metrics_file: expected a file name ending in .prom (node_exporter reads only those), got "/tmp/netgwm.txt"',
      'FILE: metrics_listen: expected ADDRESS:PORT such as 127.0.0.1:9559 or [::1]:9559, got "127.0.0.1"',
    ]);
  });

  it('refuses a non-loopback listen address unless metrics_allow_remote says so', async () => {
    expect(await problems('metrics_listen: 0.0.0.0:9559\n')).toEqual([
      'FILE: metrics_listen: 0.0.0.0:9559 is not a loopback address, so anyone who reaches it could read the metrics; use 127.0.0.1:9559, or set metrics_allow_remote: true to mean it',
    ]);
    expect((await load('metrics_listen: 0.0.0.0:9559\nmetrics_allow_remote: true\n')).metrics_listen).toBe('0.0.0.0:9559');
  });

  it.each([
    ['127.0.0.1:9559', { host: '127.0.0.1', port: 9559 }, true],
    ['localhost:1', { host: 'localhost', port: 1 }, true],
    ['[::1]:9559', { host: '::1', port: 9559 }, true],
    ['[2001:db8::1]:9559', { host: '2001:db8::1', port: 9559 }, false],
    ['192.0.2.1:65535', { host: '192.0.2.1', port: 65535 }, false],
  ])('parseListen(%s)', (text, address, loopback) => {
    expect(parseListen(text)).toEqual(address);
    expect(isLoopback(address.host)).toBe(loopback);
  });

  it.each(['127.0.0.1:0', '127.0.0.1:65536', 'example.net:80', '::1:9559', '300.1.1.1:80'])('parseListen(%s) refuses it', (text) => {
    expect(parseListen(text)).toBeUndefined();
  });
});

describe('status page keys', () => {
  /** A password file with one user, as `netgwm passwd` writes it; `mode` and `uid` to spoil it. */
  async function passwordFile(name: string, mode = 0o600, uid = 0, text?: string): Promise<string> {
    const file = join(fixture.dir, name);
    const line = `admin:${formatHash(await hashPassword('secret', { N: 1024, r: 8, p: 1 }))}\n`;
    await writeFile(file, text ?? line);
    await chmod(file, mode);
    await chown(file, uid, 0);
    return file;
  }

  it('default: no page, loopback only, the password file in /etc/netgwm', async () => {
    const config = await load('');
    expect(config).toMatchObject({ web_allow_remote: false, web_password_file: '/etc/netgwm/web.passwd' });
    expect(config.web_listen).toBeUndefined();
  });

  it('takes a loopback address without a password file', async () => {
    expect((await load('web_listen: 127.0.0.1:9560\nweb_password_file: /nonexistent/web.passwd\n')).web_listen).toBe('127.0.0.1:9560');
  });

  it('refuses a bad address and a relative password file', async () => {
    expect(await problems('web_listen: localhost\nweb_password_file: web.passwd\n')).toEqual([
      'FILE: web_listen: expected ADDRESS:PORT such as 127.0.0.1:9560 or [::1]:9560, got "localhost"',
      'FILE: web_password_file: expected an absolute path, got "web.passwd"',
    ]);
  });

  it('refuses a non-loopback address unless web_allow_remote says so', async () => {
    expect(await problems('web_listen: "[2001:db8::1]:9560"\n')).toEqual([
      'FILE: web_listen: [2001:db8::1]:9560 is not a loopback address, so anyone who reaches it could see the status page; use 127.0.0.1:9560, or set web_allow_remote: true (the page then asks for a password from web_password_file)',
    ]);
  });

  it('a remote page needs a private, root-owned password file naming a user', async () => {
    const remote = (file: string) => `web_listen: 0.0.0.0:9560\nweb_allow_remote: true\nweb_password_file: ${file}\n`;
    const good = await passwordFile('good.passwd');
    expect((await load(remote(good))).web_password_file).toBe(good);
    const missing = join(fixture.dir, 'missing.passwd');
    const open = await passwordFile('open.passwd', 0o640);
    const foreign = await passwordFile('foreign.passwd', 0o600, 1000);
    const garbage = await passwordFile('garbage.passwd', 0o600, 0, '# users\nadmin:plaintext\n');
    const needs = '(web_listen is not a loopback address, so the page needs a password)';
    expect(await problems(remote(missing))).toEqual([
      `FILE: web_password_file: ${missing} does not exist; create it with \`netgwm passwd USER\` ${needs}`,
    ]);
    expect(await problems(remote(open))).toEqual([
      `FILE: web_password_file: ${open}: group or others may access it (mode 640); run \`chmod 600 ${open}\` ${needs}`,
    ]);
    expect(await problems(remote(foreign))).toEqual([
      `FILE: web_password_file: ${foreign}: it belongs to uid 1000, not root; run \`chown root: ${foreign}\` ${needs}`,
    ]);
    expect(await problems(remote(garbage))).toEqual([
      `FILE: web_password_file: ${garbage}: line 2 is not USER:$scrypt$N=…,r=…,p=…$SALT$HASH; write it again with \`netgwm passwd USER\` ${needs}`,
    ]);
  });

  it.each([
    ['127.0.0.1:9559', '127.0.0.1:9559', true],
    ['[2001:DB8::1]:9559', '[2001:db8::1]:9559', true],
    ['127.0.0.1:9559', '127.0.0.1:9560', false],
    ['127.0.0.1:9559', undefined, false],
  ])('sameListen(%s, %s)', (a, b, same) => {
    expect(sameListen(a, b)).toBe(same);
  });
});
