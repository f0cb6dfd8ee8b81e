// conntrack.flush on the namespace network: on each switch, exactly the entries the mode names
// leave the router's conntrack table, the count is logged, and the steps run in order:
// route → nftables → conntrack → hooks (a hook sees the finished state).
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Harness } from '../harness.js';
import { activeMarks, insertFlow, logSince, markedGateways, routerFlows } from './support.js';

// Flows from the LAN host as the router would have marked them; 0x101 is mark 1 under the mask
// 0xff with a bit of someone else's above it.
const FLOWS = [
  { proto: 'tcp', sport: 40001, dport: 80, mark: 0x1 },
  { proto: 'udp', sport: 40002, dport: 53, mark: 0x1 },
  { proto: 'udp', sport: 40003, dport: 53, mark: 0x2 },
  { proto: 'tcp', sport: 40004, dport: 80, mark: 0x101 },
  { proto: 'tcp', sport: 40005, dport: 80, mark: 0x0 },
] as const;

// Records, when hooks run, how many of netgwm's rules name the new gateway as active, and how
// many flows from the LAN host the router still tracks.
const SNAPSHOT_HOOK = `#!/bin/sh
rules=$(nft list table inet netgwm | grep -c "comment \\"active $1:")
flows=$(conntrack -L -s 203.0.113.2 2>/dev/null | wc -l)
echo "$1 active-rules=$rules lan-flows=$flows" >> "$0.seen"
`;

describe('conntrack.flush on a switch (3 uplinks)', () => {
  let h: Harness;
  const snapshotHook = () => join(h.hooksDir(), '60-snapshot');
  const remainingSports = async () =>
    (await routerFlows(h.net))
      .filter((flow) => flow.src === h.net.lanHostIp)
      .map((flow) => flow.sport)
      .sort();

  /** Empties the router's conntrack table, fills it with FLOWS, then switches to `to` with `flush`. */
  async function switchWith(flush: string, to: string): Promise<number> {
    await h.writeConfig({ gateways: markedGateways(h.net), nftables: {}, conntrack: { flush } });
    await h.net.exec(h.net.routerNs, 'conntrack', ['-F']);
    for (const flow of FLOWS) await insertFlow(h.net, flow);
    const logFrom = (await h.logLines()).length;
    expect((await h.netgwm(['use', to])).exitCode).toBe(0);
    expect(await h.run()).toMatchObject({ exitCode: 0, stderr: '' });
    expect(await h.currentGateway()).toBe(to);
    return logFrom;
  }

  beforeAll(async () => {
    h = await Harness.create();
    await writeFile(snapshotHook(), SNAPSHOT_HOOK, { mode: 0o755 });
    await h.writeConfig({ gateways: markedGateways(h.net), nftables: {}, conntrack: { flush: 'all' } });
    expect(await h.run()).toMatchObject({ exitCode: 0, stderr: '' });
    expect(await h.currentGateway()).toBe('isp1');
  });
  afterAll(async () => {
    await h?.destroy();
  });

  it('udp: only the UDP entries go; the steps run in order and the hook sees the new mark', async () => {
    const logFrom = await switchWith('udp', 'isp2');
    expect(await remainingSports()).toEqual([40001, 40004, 40005]);
    expect(await logSince(h, logFrom, /route replaced|nftables:|conntrack:|hook /)).toEqual([
      expect.stringMatching(/^INFO route replaced to: via 192\.0\.2\.5 dev wan-2 \(isp2, was isp1: pinned to isp2 \(mode\)\)$/),
      'INFO nftables: loaded table inet netgwm; new connections get mark 0x2 (isp2)',
      'INFO conntrack: deleted 2 flow entries (flush: udp, conntrack -D -p udp)',
      expect.stringMatching(/^INFO hook .*50-record exited 0/),
      expect.stringMatching(/^INFO hook .*60-snapshot exited 0/),
    ]);
    expect((await readFile(`${snapshotHook()}.seen`, 'utf8')).trim().split('\n').at(-1)).toBe('isp2 active-rules=2 lan-flows=3');
  });

  it("all: the router's conntrack table is empty after the switch", async () => {
    const logFrom = await switchWith('all', 'isp1');
    expect(await routerFlows(h.net)).toEqual([]);
    expect(await logSince(h, logFrom, /conntrack:/)).toEqual([
      expect.stringMatching(/^INFO conntrack: deleted \d+ flow entries \(flush: all\)$/),
    ]);
    expect((await readFile(`${snapshotHook()}.seen`, 'utf8')).trim().split('\n').at(-1)).toBe('isp1 active-rules=2 lan-flows=0');
  });

  it("old: only the entries with the old gateway's mark under the mask go", async () => {
    const logFrom = await switchWith('old', 'isp2');
    expect(await remainingSports()).toEqual([40003, 40005]);
    expect(await logSince(h, logFrom, /conntrack:/)).toEqual([
      'INFO conntrack: deleted 3 flow entries (flush: old, conntrack -D --mark 0x1/0xff)',
    ]);
    expect((await activeMarks(h.net)).map((rule) => rule.mark)).toEqual([2, 2]);
  });

  it('none: nothing goes', async () => {
    const logFrom = await switchWith('none', 'isp1');
    expect(await remainingSports()).toEqual([40001, 40002, 40003, 40004, 40005]);
    expect(await logSince(h, logFrom, /conntrack:/)).toEqual([]);
  });
});
