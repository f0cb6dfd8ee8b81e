// Shared steps of the HA e2e tests: a streaming pair, waiting for a value, logs on failure.
import {
  type DaemonOptions,
  HaNetwork,
  ROUTER_IDS,
  type RouterId,
  type StreamClient,
  waitFor,
} from '../../../scripts/testnet/ha-network.js';

/** Hang guard for a whole HA test: a takeover takes about 3 advertisement intervals (1.5 s), a test under a minute. */
export const HA_TEST_TIMEOUT_MS = 180_000;

/** The pair, up, with r1 master and the LAN host streaming from the server through the VIP. */
export async function streamingPair(options: DaemonOptions = {}): Promise<{ net: HaNetwork; client: StreamClient }> {
  const net = await HaNetwork.create();
  try {
    await net.startDaemons(options);
    await waitForSettledPair(net, 1);
    await net.startStreamServer();
    const client = net.startStreamClient();
    await client.waitForMoreBytes(20_000);
    return { net, client };
  } catch (error) {
    await net.destroy();
    throw error;
  }
}

/**
 * Who holds the VIP (keepalived adds it as master) and, per router, the state keepalived
 * notified last (once `netgwm role` for it finished) and the role `netgwm role` wrote.
 */
export async function pairState(net: HaNetwork) {
  const routers = [];
  for (const r of ROUTER_IDS) routers.push({ notified: (await net.notifyStates(r)).at(-1), roleFile: await net.roleFile(r) });
  return { vipHolders: await net.vipHolders(), routers };
}

/** pairState() of a pair settled with `master` holding the VIP and the other router backup. */
export function settledPair(master: RouterId): Awaited<ReturnType<typeof pairState>> {
  return {
    vipHolders: [master],
    routers: ROUTER_IDS.map((r) =>
      r === master ? { notified: 'MASTER', roleFile: 'master' } : { notified: 'BACKUP', roleFile: 'backup' },
    ),
  };
}

/**
 * Waits until the pair settled with `master` holding the VIP, each router's last notified state
 * matching, and the role files agreeing. What came before is not checked: at start-up on a
 * loaded machine both routers may be master for a moment (r2 notified MASTER, then BACKUP).
 */
export async function waitForSettledPair(net: HaNetwork, master: RouterId): Promise<void> {
  await withLogs(net, () => waitForValue(() => pairState(net), settledPair(master)));
}

/** Polls `read` (100 ms apart, hang guard 60 s) until it gives `expected` (compared as JSON). */
export async function waitForValue<T>(read: () => Promise<T>, expected: T): Promise<void> {
  let last: T | undefined;
  await waitFor(`the value ${JSON.stringify(expected)}`, async () => {
    last = await read();
    return JSON.stringify(last) === JSON.stringify(expected) ? true : undefined;
  }).catch((error: unknown) => {
    throw new Error(`${String(error)}; last value ${JSON.stringify(last)}`);
  });
}

/** Runs `step`; when it fails, the error carries the tail of every daemon log. */
export async function withLogs<T>(net: HaNetwork, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    throw new Error(`${String(error)}\n${await net.logs()}`);
  }
}
