// Shared steps of the HA e2e tests: a streaming pair, waiting for a value, logs on failure.
import { type DaemonOptions, HaNetwork, type StreamClient, waitFor } from '../../../scripts/testnet/ha-network.js';

/** Hang guard for a whole HA test: a takeover takes about 3 advertisement intervals (1.5 s), a test under a minute. */
export const HA_TEST_TIMEOUT_MS = 180_000;

/** The pair, up, with r1 master and the LAN host streaming from the server through the VIP. */
export async function streamingPair(options: DaemonOptions = {}): Promise<{ net: HaNetwork; client: StreamClient }> {
  const net = await HaNetwork.create();
  try {
    await net.startDaemons(options);
    await withLogs(net, () => net.waitForMaster(1));
    // Notify scripts run on their own: r2's may finish after r1 took the VIP.
    await withLogs(net, () => waitForValue(() => net.notifyStates(2), ['BACKUP']));
    await net.startStreamServer();
    const client = net.startStreamClient();
    await client.waitForMoreBytes(20_000);
    return { net, client };
  } catch (error) {
    await net.destroy();
    throw error;
  }
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
