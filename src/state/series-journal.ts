// The series journal (STATE_DIR/series/series.journal): the buckets closed since the snapshot
// (series.bin, src/state/series-format.ts) was written, appended every minute, so that a minute
// costs a few hundred bytes instead of the whole snapshot (flash wear on a router's SD card).
//
//   file    = "NGWSJ1 " snapshot id (16 hex digits) "\n", record*
//   record  = 0xA6, u32le payload length, u32le CRC-32 of the payload, payload
//   payload = path+
//   path    = u8 key length, key (UTF-8), u16le bucket count, bucket*
//   bucket  = u8 ring (0: 10 s, 1: 5 min), u32le index (unix seconds / step), u32le sent,
//             u32le answered, f32le RTT sum (ms), f32le RTT max (ms)
//
// A journal continues only the snapshot whose id it names: the store writes the snapshot first,
// then a fresh journal, so a crash between the two leaves an older journal that the snapshot
// already holds. Replaying sets each bucket to what the record says: a later record wins.
import { type BucketSums, COARSE, FINE } from '../core/series.js';
import { crc32 } from './record-format.js';
import { addsUp, SNAPSHOT_ID } from './series-format.js';

const MAGIC = 'NGWSJ1 ';
export const JOURNAL_HEADER_BYTES = MAGIC.length + 16 + 1;
const RECORD_MARKER = 0xa6;
const RECORD_HEADER_BYTES = 9;
const BUCKET_BYTES = 21;
const MAX_KEY_BYTES = 64;
/** The most a path can have in one record: both its rings whole (after saving failed for a day). */
const MAX_BUCKETS = FINE.slots + COARSE.slots;
export const RINGS = ['fine', 'coarse'] as const;

export interface JournalPath {
  key: string;
  buckets: Array<BucketSums & { ring: (typeof RINGS)[number] }>;
}

export const journalHeader = (snapshotId: string): Buffer => Buffer.from(`${MAGIC}${snapshotId}\n`);

/** One record: what to append. */
export function encodeJournalRecord(paths: JournalPath[]): Buffer {
  const parts = paths.map(({ key, buckets }) => {
    const name = Buffer.from(key);
    const part = Buffer.alloc(1 + name.length + 2 + buckets.length * BUCKET_BYTES);
    part.writeUInt8(name.length, 0);
    name.copy(part, 1);
    let at = part.writeUInt16LE(buckets.length, 1 + name.length);
    for (const bucket of buckets) {
      at = part.writeUInt8(RINGS.indexOf(bucket.ring), at);
      at = part.writeUInt32LE(bucket.bucket, at);
      at = part.writeUInt32LE(bucket.sent, at);
      at = part.writeUInt32LE(bucket.answered, at);
      at = part.writeFloatLE(bucket.rttSumMs, at);
      at = part.writeFloatLE(bucket.rttMaxMs, at);
    }
    return part;
  });
  const payload = Buffer.concat(parts);
  const head = Buffer.alloc(RECORD_HEADER_BYTES);
  head.writeUInt8(RECORD_MARKER, 0);
  head.writeUInt32LE(payload.length, 1);
  head.writeUInt32LE(crc32(payload), 5);
  return Buffer.concat([head, payload]);
}

export interface JournalRead {
  /** The snapshot it continues. */
  snapshotId: string;
  /** Every path of every whole record, in the order written. */
  paths: JournalPath[];
  /** Bytes up to the end of the last whole record: where the next record goes. */
  validEnd: number;
  /** The last record was cut short (a crash or a full disk during its write): skipped. */
  torn: boolean;
  /** A record that is not one (checksum, length, contents): the replay ends before it. */
  problem?: string;
}

/** The journal in `bytes`, or what is wrong with its header (then nothing of it can be used). */
export function readJournal(bytes: Buffer): JournalRead | { problem: string } {
  const magic = bytes.toString('latin1', 0, MAGIC.length);
  const snapshotId = bytes.toString('latin1', MAGIC.length, JOURNAL_HEADER_BYTES - 1);
  if (magic !== MAGIC || !SNAPSHOT_ID.test(snapshotId) || bytes[JOURNAL_HEADER_BYTES - 1] !== 10)
    return { problem: `not a series journal (expected a first line "${MAGIC}" and 16 hex digits)` };
  const read: JournalRead = { snapshotId, paths: [], validEnd: JOURNAL_HEADER_BYTES, torn: false };
  for (let offset = JOURNAL_HEADER_BYTES; offset < bytes.length; offset = read.validEnd) {
    if (bytes[offset] !== RECORD_MARKER) return { ...read, problem: `offset ${offset}: no record starts here` };
    if (offset + RECORD_HEADER_BYTES > bytes.length) return { ...read, torn: true };
    const length = bytes.readUInt32LE(offset + 1);
    const start = offset + RECORD_HEADER_BYTES;
    if (length === 0 || length > MAX_RECORD_BYTES) return { ...read, problem: `offset ${offset}: a record of ${length} bytes` };
    if (start + length > bytes.length) return { ...read, torn: true };
    if (crc32(bytes, start, start + length) !== bytes.readUInt32LE(offset + 5))
      return { ...read, problem: `offset ${offset}: a record whose checksum does not match` };
    const paths = decodePayload(bytes.subarray(start, start + length));
    if (typeof paths === 'string') return { ...read, problem: `offset ${offset}: ${paths}` };
    read.paths.push(...paths);
    read.validEnd = start + length;
  }
  return read;
}

/** 64 gateways in both families, each with both rings whole. */
const MAX_RECORD_BYTES = 128 * (1 + MAX_KEY_BYTES + 2 + MAX_BUCKETS * BUCKET_BYTES);

function decodePayload(payload: Buffer): JournalPath[] | string {
  const paths: JournalPath[] = [];
  for (let at = 0; at < payload.length; ) {
    const keyBytes = payload[at]!;
    if (keyBytes === 0 || keyBytes > MAX_KEY_BYTES || at + 1 + keyBytes + 2 > payload.length) return `a path name of ${keyBytes} bytes`;
    const key = payload.toString('utf8', at + 1, at + 1 + keyBytes);
    const count = payload.readUInt16LE(at + 1 + keyBytes);
    at += 1 + keyBytes + 2;
    if (count > MAX_BUCKETS || at + count * BUCKET_BYTES > payload.length) return `${key}: ${count} buckets, more than the record holds`;
    const path: JournalPath = { key, buckets: [] };
    for (let i = 0; i < count; i++, at += BUCKET_BYTES) {
      const ring = RINGS[payload[at]!];
      const sums = {
        bucket: payload.readUInt32LE(at + 1),
        sent: payload.readUInt32LE(at + 5),
        answered: payload.readUInt32LE(at + 9),
        rttSumMs: payload.readFloatLE(at + 13),
        rttMaxMs: payload.readFloatLE(at + 17),
      };
      if (ring === undefined) return `${key}: ring ${payload[at]}, expected 0 (10 s) or 1 (5 min)`;
      if (!addsUp(sums.sent, sums.answered, sums.rttSumMs, sums.rttMaxMs)) return `${key}: bucket ${sums.bucket} does not add up`;
      path.buckets.push({ ring, ...sums });
    }
    paths.push(path);
  }
  return paths;
}
