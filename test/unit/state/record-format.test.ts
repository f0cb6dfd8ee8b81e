import { describe, expect, it } from 'vitest';
import type { ProbeEvent } from '../../../src/core/probe-events.js';
import {
  BLOCK_HEADER_BYTES,
  BlockEncoder,
  checkRecording,
  crc32,
  FILE_HEADER,
  RecordingError,
  recordingEventsOf,
  recordingSpan,
  tableCrc32,
} from '../../../src/state/record-format.js';

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
    // A Buffer that starts inside a larger one (as a pooled read does): the range is of its own bytes.
    const inside = Buffer.concat([Buffer.alloc(7, 0xee), bytes]).subarray(7);
    expect(inside.byteOffset).toBeGreaterThan(0);
    expect(crc32(inside, 3, 4099)).toBe(tableCrc32(bytes, 3, 4099));
  });
});

/** A recording of the blocks whose payloads are given, each with its header and a valid checksum. */
function recording(...payloads: number[][]): Uint8Array {
  const blocks = payloads.map((payload) => {
    const block = new Uint8Array(BLOCK_HEADER_BYTES + payload.length);
    const view = new DataView(block.buffer);
    block[0] = 0xa5;
    view.setUint32(1, payload.length, true);
    view.setUint32(5, crc32(Uint8Array.from(payload)), true);
    block.set(payload, BLOCK_HEADER_BYTES);
    return block;
  });
  return Buffer.concat([FILE_HEADER, ...blocks]);
}

const FILE = 'probes.rec';
const decoded = (bytes: Uint8Array): Iterator<ProbeEvent> => recordingEventsOf([checkRecording(bytes, FILE)]);
const all = (bytes: Uint8Array): ProbeEvent[] => [...{ [Symbol.iterator]: () => decoded(bytes) }];
const errorOf = (decode: () => unknown): string => {
  try {
    decode();
  } catch (error) {
    expect(error).toBeInstanceOf(RecordingError);
    return (error as Error).message;
  }
  throw new Error('decoded without an error');
};

/** Base time 1, gateway "a", name "b", then a round of "a" with the site list [b], at file offset AT, up to its Δtime. */
const ROUND_OF_A = [1, 0xc0, 1, 0x61, 0xc1, 1, 0x62, 0x40, 1, 0];
const AT = FILE_HEADER.length + BLOCK_HEADER_BYTES + 7;

describe('decoding a recording', () => {
  it('reads varints of one byte, two and more alike, across the one-byte boundary', () => {
    const bytes = recording([
      // Δtime 127 (the largest one-byte varint), echo 128 (the smallest two-byte one: RTT +63 units), lag 0.
      ...[...ROUND_OF_A, 0x7f, 0x80, 0x01, 0x00],
      // Same sites: Δtime 128, echo 127 (RTT -63 units: 0), lag 127 (zigzag: -64 from the expected 0).
      ...[0x00, 0x80, 0x01, 0x7f, 0x7f],
      // Δtime 16384 (three bytes), echo 0x2000 + 2 (RTT +4096 units), lag 0x80000000 (2^31: zigzag of 2^30 beyond the expected 410).
      ...[0x00, 0x80, 0x80, 0x01, 0x82, 0x40, 0x80, 0x80, 0x80, 0x80, 0x08],
      // Lost echo, lag 2^33 + 1 (zigzag: -(2^32 + 1) from the lost round's lag before it: none, 0).
      ...[0x00, 0x00, 0x00, 0x81, 0x80, 0x80, 0x80, 0x20],
    ]);
    const b = { site: 'b', answered: true };
    expect(all(bytes)).toEqual([
      { kind: 'round', gateway: 'a', at: 128 - 7, settledAt: 128, echoes: [{ ...b, rttMs: 6.3 }] },
      { kind: 'round', gateway: 'a', at: 256 + 64, settledAt: 256, echoes: [{ ...b, rttMs: 0 }] },
      { kind: 'round', gateway: 'a', at: 16640 - 410 - 2 ** 30, settledAt: 16640, echoes: [{ ...b, rttMs: 409.6 }] },
      { kind: 'round', gateway: 'a', at: 16640 + 2 ** 32 + 1, settledAt: 16640, echoes: [{ site: 'b', answered: false }] },
    ]);
  });

  it('reads back what the encoder wrote: epoch times, steps back, links, RTTs and lags of every size', () => {
    const T0 = Date.UTC(2026, 10, 30, 12);
    const sites = ['192.0.2.53', '203.0.113.53'];
    const events: ProbeEvent[] = [
      {
        kind: 'round',
        gateway: 'isp1',
        at: T0 - 13,
        settledAt: T0,
        echoes: [
          { site: sites[0]!, answered: true, rttMs: 12.3 },
          { site: sites[1]!, answered: true, rttMs: 0.5 },
        ],
      },
      { kind: 'link', gateway: 'lte', dev: 'wwan0', up: false, at: T0 + 1 },
      {
        kind: 'round',
        gateway: 'isp1',
        at: T0 + 127 - 19,
        settledAt: T0 + 127,
        echoes: [
          { site: sites[0]!, answered: true, rttMs: 18.5 },
          { site: sites[1]!, answered: true, rttMs: 6.8 },
        ],
      },
      {
        kind: 'round',
        gateway: 'lte',
        at: T0 - 500,
        settledAt: T0,
        echoes: [
          { site: sites[1]!, answered: false },
          { site: sites[0]!, answered: true },
        ],
      },
      {
        kind: 'round',
        gateway: 'isp1',
        at: T0 + 16_384 - 2 ** 32,
        settledAt: T0 + 16_384,
        echoes: [
          { site: sites[0]!, answered: true, rttMs: 3000 },
          { site: sites[1]!, answered: false },
        ],
      },
      {
        kind: 'round',
        gateway: 'isp1',
        at: T0 + 20_000 + 5,
        settledAt: T0 + 20_000,
        echoes: [
          { site: sites[0]!, answered: true, rttMs: 0 },
          { site: sites[1]!, answered: true, rttMs: 0.1 },
        ],
      },
    ];
    const encoder = new BlockEncoder();
    for (const event of events) expect(encoder.add(event)).toBe(true);
    const block = encoder.seal()!;
    const bytes = Buffer.concat([FILE_HEADER, block, block]);
    expect(all(bytes)).toEqual([...events, ...events]);
  });

  it('says where a record is cut short inside a varint, or is wrong, as each record is read', () => {
    const short = `${FILE}: offset ${AT}: a record runs past the end of its block`;
    expect(errorOf(() => all(recording([...ROUND_OF_A, 0x85])))).toBe(short); // inside Δtime
    expect(errorOf(() => all(recording([...ROUND_OF_A, 5])))).toBe(short); // before the echo
    expect(errorOf(() => all(recording([...ROUND_OF_A, 5, 0x82])))).toBe(short); // inside the echo
    expect(errorOf(() => all(recording([...ROUND_OF_A, 5, 2])))).toBe(short); // before the lag
    expect(errorOf(() => all(recording([...ROUND_OF_A, 5, 2, 0xff])))).toBe(short); // inside the lag
    expect(errorOf(() => all(recording([...ROUND_OF_A, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1])))).toBe(
      `${FILE}: offset ${AT}: a number longer than 8 bytes`,
    );
    expect(errorOf(() => all(recording([...ROUND_OF_A, 5, 3, 0])))).toBe(`${FILE}: offset ${AT}: a negative RTT`);
  });

  it('gives the events before a wrong record, then throws: as if decoded one at a time', () => {
    const events = decoded(recording([...ROUND_OF_A, 5, 12, 0, 0xc7], [...ROUND_OF_A, 5, 12, 0]));
    expect(events.next()).toEqual({ done: false, value: expect.objectContaining({ kind: 'round', settledAt: 6 }) });
    expect(errorOf(() => events.next())).toBe(`${FILE}: offset ${AT + 6}: unknown record type 0xc7`);
  });

  it('reads a recording checked once the same every time: events, damaged end, span', () => {
    const whole = recording([...ROUND_OF_A, 5, 12, 0], [...ROUND_OF_A, 7, 12, 0]);
    for (const bytes of [whole, whole.subarray(0, whole.length - 3)]) {
      const read = (files: Parameters<typeof recordingEventsOf>[0]) => {
        const damaged: unknown[] = [];
        const events = [...{ [Symbol.iterator]: () => recordingEventsOf(files, (...heard) => damaged.push(heard)) }];
        return { events, damaged, span: recordingSpan(files) };
      };
      const asRead = read([checkRecording(bytes, FILE)]);
      const checked = [checkRecording(bytes, FILE)];
      expect(read(checked)).toEqual(asRead);
      expect(read(checked)).toEqual(asRead);
    }
    expect(errorOf(() => checkRecording(Buffer.from('gateways: {}'), FILE))).toMatch(
      /^probes\.rec: offset 0: not a netgwm probe recording/,
    );
  });

  it('tells names apart by every byte, however often blocks define them again', () => {
    const round = (gateway: string) => [1, 0xc0, 3, ...Buffer.from(gateway), 0xc1, 1, 0x62, 0x40, 1, 0, 5, 12, 0];
    const bytes = recording(round('lte'), round('ltf'), round('lte'), round('isp'));
    expect(all(bytes).map((event) => event.gateway)).toEqual(['lte', 'ltf', 'lte', 'isp']);
    const notUtf8 = recording(round('lte'), [1, 0xc0, 3, 0x6c, 0x74, 0xff]);
    const second = FILE_HEADER.length + BLOCK_HEADER_BYTES + round('lte').length + BLOCK_HEADER_BYTES;
    expect(errorOf(() => all(notUtf8))).toBe(`${FILE}: offset ${second + 1}: a name that is not UTF-8`);
  });
});
