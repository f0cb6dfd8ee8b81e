import { describe, expect, it } from 'vitest';
import { crc32, tableCrc32 } from '../../../src/state/record-format.js';

describe('crc32', () => {
  it("is zlib's CRC-32, by zlib where Node has it and by the table where not: both agree", () => {
    const check = new TextEncoder().encode('123456789');
    expect(crc32(check)).toBe(0xcbf43926); // the standard check value
    expect(tableCrc32(check)).toBe(0xcbf43926);
    const bytes = Uint8Array.from({ length: 4099 }, (_, i) => (i * 7919) & 0xff);
    for (const [start, end] of [
      [0, 0],
      [0, 1],
      [3, 4099],
      [1000, 1017],
    ] as const) {
      expect(crc32(bytes, start, end)).toBe(tableCrc32(bytes, start, end));
    }
  });
});
