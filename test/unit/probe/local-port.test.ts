import { describe, expect, it } from 'vitest';
import { connectUdp, MAX_TRIES, portsToTry } from '../../../src/probe/local-port.js';

describe('portsToTry', () => {
  it('starts each socket at the port after the last one handed out in its range, wrapping around, at most MAX_TRIES ports', () => {
    const range = { from: 50000, to: 50063 };
    const first = portsToTry(range);
    expect(first).toHaveLength(MAX_TRIES);
    expect(first.every((port, index) => port === first[0]! + index || port === first[0]! + index - 64)).toBe(true);
    expect(portsToTry(range)[0]).toBe(first[0]! + 1 > range.to ? range.from : first[0]! + 1);
    // Another range keeps its own place.
    expect(portsToTry({ from: 50064, to: 50127 })[0]).toBe(50064);
  });

  it('a small range gives each of its ports once', () => {
    const range = { from: 50200, to: 50202 };
    expect(portsToTry(range)).toEqual([50200, 50201, 50202]);
    expect(portsToTry(range)).toEqual([50201, 50202, 50200]);
    expect(portsToTry(range)).toEqual([50202, 50200, 50201]);
  });
});

describe('connectUdp', () => {
  it('rejects with the reason connect() failed (here: broadcast without SO_BROADCAST), not with an unconnected socket', async () => {
    const connecting = connectUdp('255.255.255.255', 53, { from: 50300, to: 50307 }, new AbortController().signal, () => undefined);
    await expect(connecting).rejects.toThrow(/EACCES/);
  });
});
