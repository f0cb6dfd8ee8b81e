// conntrack scoped to one address family, with the real conntrack on a dual-stack namespace
// router: flows of both families are in its table (inserted as if the LAN host's had been
// marked), and each flush takes those of its family only; without a family, both go (as before).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestNetwork } from '../../../scripts/testnet/network.js';
import { deleteFlows, flushFilter } from '../../../src/system/conntrack.js';
import { createExec, type Exec } from '../../../src/system/exec.js';

let net: TestNetwork;
const routerExec: Exec = (file, args, options) => createExec()('ip', ['netns', 'exec', net.routerNs, file, ...args], options);

const FLOWS = [
  { family: 4, proto: 'udp', sport: 40001, mark: 0x1 },
  { family: 4, proto: 'tcp', sport: 40002, mark: 0x2 },
  { family: 6, proto: 'udp', sport: 40003, mark: 0x1 },
  { family: 6, proto: 'tcp', sport: 40004, mark: 0x2 },
  { family: 6, proto: 'udp', sport: 40005, mark: 0x2 },
] as const;

async function fill(): Promise<void> {
  await routerExec('conntrack', ['-F']);
  for (const flow of FLOWS) {
    const [src, dst] = flow.family === 6 ? [net.lanHostIp6!, net.sites6[0]!] : [net.lanHostIp, net.sites[0]!];
    const state = flow.proto === 'tcp' ? ['--state', 'ESTABLISHED', '-u', 'SEEN_REPLY'] : [];
    await routerExec('conntrack', [
      '-I',
      '-s',
      src,
      '-d',
      dst,
      '-p',
      flow.proto,
      '--sport',
      String(flow.sport),
      '--dport',
      '53',
      ...state,
      '-t',
      '600',
      '-m',
      String(flow.mark),
    ]);
  }
}

/** Source ports (of the original direction) of the flows left, sorted. */
async function left(): Promise<number[]> {
  const { stdout } = await routerExec('conntrack', ['-L']);
  const ports = stdout.split('\n').flatMap((line) => {
    const port = /\bsport=(\d+)/.exec(line)?.[1];
    return port === undefined ? [] : [Number(port)];
  });
  return ports.sort((a, b) => a - b);
}

beforeAll(async () => {
  net = await TestNetwork.create({ uplinks: 1, sites: 1, ipv6: true });
});
afterAll(async () => {
  await net?.destroy();
});

describe('deleteFlows with a family', () => {
  it.each([
    ['udp of IPv6', flushFilter('udp', undefined, 0xff, 6), 6, [40001, 40002, 40004]],
    ['old (mark 2) of IPv6', flushFilter('old', 0x2, 0xff, 6), 6, [40001, 40002, 40003]],
    ['all of IPv6', flushFilter('all', undefined, 0xff, 6), 6, [40001, 40002]],
    ['all of IPv4', flushFilter('all', undefined, 0xff, 4), 4, [40003, 40004, 40005]],
    ['udp of both (no family, as before IPv6)', flushFilter('udp', undefined, 0xff), undefined, [40002, 40004]],
  ] as const)('%s', async (_, filter, family, remaining) => {
    await fill();
    expect(await left()).toEqual([40001, 40002, 40003, 40004, 40005]);
    const deleted = await deleteFlows(routerExec, [...filter], family);
    expect(deleted).toBe(5 - remaining.length);
    expect(await left()).toEqual(remaining);
  });
});
