// The HA network leaves nothing behind: no namespace, no process in one, no /etc/netns entry, no run dir.
import { existsSync } from 'node:fs';
import { execa } from 'execa';
import { expect, it } from 'vitest';
import { HaNetwork } from '../../../scripts/testnet/ha-network.js';
import { HA_TEST_TIMEOUT_MS } from './pair.js';

it(
  'destroy() kills keepalived, conntrackd and the stream programs and deletes every namespace and file it made',
  async () => {
    const net = await HaNetwork.create();
    try {
      await net.startDaemons();
      await net.startStreamServer();
      net.startStreamClient();
      const pids = await execa('ip', ['netns', 'pids', net.router(1).ns]);
      expect(pids.stdout.trim()).not.toBe('');
    } finally {
      await net.destroy();
    }
    const { stdout } = await execa('ip', ['netns', 'list']);
    for (const ns of net.namespaces) expect(stdout).not.toContain(ns);
    for (const router of Object.values(net.routers)) expect(existsSync(router.etcDir)).toBe(false);
    expect(existsSync(net.runDir)).toBe(false);
    const leftovers = await execa('pgrep', ['-f', net.runDir], { reject: false });
    expect(leftovers.stdout).toBe('');
  },
  HA_TEST_TIMEOUT_MS,
);
