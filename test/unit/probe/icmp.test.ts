import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { internetChecksum } from '../../../src/probe/icmp.js';

// raw-socket's own (native) checksum, which net-ping's echo requests carry.
const raw = createRequire(import.meta.url)('raw-socket') as { createChecksum(...buffers: Buffer[]): number };

describe('internetChecksum (the echo requests the rounds write themselves)', () => {
  it.each([
    { case: 'an echo request as net-ping builds it', bytes: [8, 0, 0, 0, 0x12, 0x34, 0xff, 0xfe, 0, 0, 0, 0, 0, 0, 0, 0] },
    { case: 'a sum that carries more than once', bytes: [0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, 0x80, 0x01] },
    { case: 'an odd length', bytes: [8, 0, 0, 0, 1, 2, 3] },
    { case: 'all zero', bytes: [0, 0, 0, 0] },
  ])('$case: the same as raw-socket', ({ bytes }) => {
    const data = Buffer.from(bytes);
    expect(internetChecksum(data)).toBe(raw.createChecksum(data));
  });

  it('makes a packet whose checksum verifies (sums to 0xffff with it)', () => {
    const packet = Buffer.from([8, 0, 0, 0, 0xab, 0xcd, 0x00, 0x07, 0, 0, 0, 0, 0, 0, 0, 0]);
    packet.writeUInt16BE(internetChecksum(packet), 2);
    expect(internetChecksum(packet)).toBe(0);
  });
});
