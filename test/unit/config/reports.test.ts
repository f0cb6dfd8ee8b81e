// status_dir, metrics_file, metrics_listen and metrics_allow_remote: defaults and every refusal.
import { beforeAll, describe, expect, it } from 'vitest';
import { isLoopback, parseListen } from '../../../src/config/reports.js';
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
