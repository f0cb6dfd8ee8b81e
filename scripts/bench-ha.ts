// `npm run bench` section `ha` (issue 14): takeover time and TCP stall of the keepalived +
// conntrackd pair of scripts/testnet/ha-network.ts (netgwm in both routers).
// Each takeover gets a fresh pair with r1 master and the LAN host streaming through the VIP:
//   - master death: every process of r1 killed and its links down (r2 misses 3 advertisements);
//   - track script: all of r1's uplinks fail, so its `netgwm health` fails (weight -60: r2's priority wins).
// Takeover: from the failure to r2 holding the VIP with its conntrackd commit done (polled as fast
// as `ip` answers). Stall: the longest gap between two arrivals of the flow (10 ms apart normally).
import { HaNetwork, type RouterId } from './testnet/ha-network.js';

type Kind = 'master death' | 'track script';

interface Takeover {
  takeoverMs: number;
  stallMs: number;
  resets: number;
}

async function takeover(kind: Kind): Promise<Takeover> {
  const net = await HaNetwork.create();
  try {
    await net.startDaemons();
    await net.waitForMaster(1);
    await net.startStreamServer();
    const client = net.startStreamClient();
    await client.waitForMoreBytes(50_000);
    const started = performance.now();
    if (kind === 'master death') await net.powerOff(1);
    else await net.setHealthy(1, false);
    await pollUntilMaster(net, 2);
    const takeoverMs = performance.now() - started;
    const status = await client.waitForMoreBytes(100_000);
    return { takeoverMs, stallMs: status.maxGapMs, resets: status.resets };
  } finally {
    await net.destroy();
  }
}

// waitForMaster() polls every 100 ms; this polls back to back for a finer figure (bounded: 60 s).
async function pollUntilMaster(net: HaNetwork, r: RouterId): Promise<void> {
  const deadline = performance.now() + 60_000;
  for (let attempt = 0; attempt < 10_000 && performance.now() < deadline; attempt++) {
    const holders = await net.vipHolders();
    if (holders.length === 1 && holders[0] === r && (await net.notifyStates(r)).at(-1) === 'MASTER') return;
  }
  throw new Error(`timed out after 60 s waiting for router ${r} to be the only VIP holder with its MASTER notify done`);
}

const ms = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
  const format = (value: number) => `${Math.round(value)} ms`.padStart(9);
  return `${format(median)}${format(sorted[0] ?? Number.NaN)}${format(sorted.at(-1) ?? Number.NaN)}`;
};

/** Prints the takeover time and TCP stall of `count` takeovers of each kind. */
export async function haTakeovers(count: number): Promise<void> {
  console.log(
    `\n## HA pair (keepalived + conntrackd), ${count} takeovers each`.padEnd(50),
    'median'.padStart(9),
    'min'.padStart(9),
    'max'.padStart(9),
  );
  for (const kind of ['master death', 'track script'] as const) {
    const runs: Takeover[] = [];
    for (let run = 0; run < count; run++) runs.push(await takeover(kind));
    console.log(`${kind}: takeover (VIP on r2, state committed)`.padEnd(50), ms(runs.map((run) => run.takeoverMs)));
    console.log(`${kind}: TCP stall through the VIP`.padEnd(50), ms(runs.map((run) => run.stallMs)));
    console.log(`${kind}: TCP resets`.padEnd(50), String(runs.reduce((sum, run) => sum + run.resets, 0)).padStart(9));
  }
}
