/**
 * The link monitor on the test network of scripts/testnet/network.ts: a real `ip monitor` in the
 * router namespace (run through `ip netns exec`), real link changes.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestNetwork } from '../../../scripts/testnet/network.js';
import { createExec, type Exec } from '../../../src/system/exec.js';
import { type LinkEvent, readLinks, watchLinks } from '../../../src/system/link-monitor.js';
import { waitFor } from '../harness.js';

let network: TestNetwork;

async function until(what: string, check: () => boolean): Promise<void> {
  if (!(await waitFor(check))) throw new Error(`still waiting for ${what}`);
}
const inRouter = (args: string[]) => ({ file: 'ip', args: ['netns', 'exec', network.routerNs, 'ip', ...args] });
const routerExec: Exec = (file, args, options) => createExec()('ip', ['netns', 'exec', network.routerNs, file, ...args], options);
const routerIp = (...args: string[]) => network.exec(network.routerNs, 'ip', args);

/** Pids of this process's `ip … monitor` children (`ip netns exec` execs the command in place). */
function monitorPids(): number[] {
  const children = readdirSync('/proc/self/task').flatMap((task) =>
    readFileSync(`/proc/self/task/${task}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number),
  );
  return children.filter((pid) => {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      return argv[0] === 'ip' && argv.includes('monitor');
    } catch {
      return false; // gone meanwhile
    }
  });
}

beforeAll(async () => {
  network = await TestNetwork.create({ uplinks: 2, sites: 1 });
});
afterAll(() => network?.destroy());

describe('watchLinks', () => {
  const events: LinkEvent[] = [];
  const restarts: string[] = [];
  let monitor: { stop(): Promise<void> } | undefined;
  const seen = (event: LinkEvent) => () => events.some((other) => JSON.stringify(other) === JSON.stringify(event));

  /** `ip monitor` says nothing once it listens: change a route until its event comes. */
  async function untilListening(): Promise<void> {
    const before = events.filter((event) => event.kind === 'route').length;
    for (let attempt = 0; attempt < 100; attempt++) {
      await routerIp('route', 'replace', 'unreachable', '198.18.77.0/24', 'table', '77');
      await routerIp('route', 'del', 'unreachable', '198.18.77.0/24', 'table', '77');
      if (events.filter((event) => event.kind === 'route').length > before) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error('ip monitor never reported a route change');
  }

  beforeAll(async () => {
    monitor = watchLinks((event) => events.push(event), { command: inRouter, onRestart: (why) => restarts.push(why) });
    await untilListening();
  });
  afterAll(() => monitor?.stop());

  it('reports a link losing and regaining its carrier', async () => {
    const dev = network.uplink(2).routerDev;
    await network.setUplinkLink(2, false);
    await until(`${dev} down`, seen({ kind: 'link', dev, up: false }));
    await network.setUplinkLink(2, true);
    await until(`${dev} up`, seen({ kind: 'link', dev, up: true }));
  });

  it('reports the operator side going down as a lost carrier, and addresses', async () => {
    const dev = network.uplink(1).routerDev;
    await network.exec(network.uplink(1).operatorNs, 'ip', ['link', 'set', 'to-router', 'down']);
    await until(`${dev} without carrier`, seen({ kind: 'link', dev, up: false }));
    await network.exec(network.uplink(1).operatorNs, 'ip', ['link', 'set', 'to-router', 'up']);
    await until(`${dev} with carrier`, seen({ kind: 'link', dev, up: true }));
    await routerIp('addr', 'add', '192.0.2.250/32', 'dev', dev);
    await until('an address event', () => events.some((event) => event.kind === 'address'));
  });

  it('reports a deleted veth pair as gone', async () => {
    await routerIp('link', 'add', 'ngwx', 'type', 'veth', 'peer', 'name', 'ngwy');
    await routerIp('link', 'del', 'ngwx');
    await until('ngwx gone', seen({ kind: 'link', dev: 'ngwx', up: false, gone: true }));
    await until('ngwy gone', seen({ kind: 'link', dev: 'ngwy', up: false, gone: true }));
  });

  it('restarts ip monitor when it dies', async () => {
    const [pid] = monitorPids();
    expect(pid).toBeDefined();
    process.kill(pid as number, 'SIGKILL');
    await until('the restart', () => restarts.length > 0);
    expect(restarts[0]).toMatch(/^ip: /);
    await until('a new monitor', () => monitorPids().length === 1 && monitorPids()[0] !== pid);
    await untilListening();
  });

  it('leaves no monitor running after stop()', async () => {
    expect(monitorPids()).toHaveLength(1);
    await monitor?.stop();
    monitor = undefined;
    expect(monitorPids()).toEqual([]);
  });
});

describe('readLinks', () => {
  it('gives the carrier of every link in the namespace', async () => {
    await network.setUplinkLink(2, false);
    const links = await readLinks(routerExec);
    expect(links).toMatchObject({ lo: true, [network.uplink(1).routerDev]: true, [network.uplink(2).routerDev]: false });
    await network.setUplinkLink(2, true);
  });
});
