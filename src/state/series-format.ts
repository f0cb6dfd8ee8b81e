// The series snapshot (STATE_DIR/series/series.bin): one JSON line saying what follows (and the id
// of the journal that continues it, src/state/series-journal.ts), then per path and tier the four
// columns of its ring (sent, answered: uint32; RTT sum, max: float32; little endian). Anything
// that does not add up, to the byte, is a damaged file.
import { endianness } from 'node:os';
import * as z from 'zod';
import { BUCKET_BYTES, COARSE, emptyTier, FINE, type PathSeries, type Series, type Tier, type TierShape } from '../core/series.js';

const FORMAT = 'netgwm-series';
/** The header line: far more than 128 paths' keys take. */
export const MAX_HEADER_BYTES = 64 << 10;
/** The file is little endian: the rings' own bytes are copied as they are on such a host, swapped on another. */
const LITTLE_ENDIAN = endianness() === 'LE';
/** Bytes of one path's two rings. */
export const PATH_BYTES = (FINE.slots + COARSE.slots) * BUCKET_BYTES;

const tierHeader = z.object({ step_s: z.number().int(), slots: z.number().int(), newest: z.number().int().min(-1) });
/** Names the snapshot; the journal that continues it starts with the same id. */
export const SNAPSHOT_ID = /^[0-9a-f]{16}$/;
const header = z.object({
  format: z.literal(FORMAT),
  version: z.literal(1),
  journal: z.string().regex(SNAPSHOT_ID),
  paths: z.array(z.object({ key: z.string().min(1).max(64), link_down: z.boolean(), tiers: z.tuple([tierHeader, tierHeader]) })),
});

export function encodeSeries(series: Series, journal: string): Buffer {
  const paths = [...series].map(([key, path]) => ({
    key,
    link_down: path.linkDown,
    tiers: [path.fine, path.coarse].map((tier) => ({ step_s: tier.stepS, slots: tier.slots, newest: tier.newest })),
  }));
  const head = Buffer.from(`${JSON.stringify({ format: FORMAT, version: 1, journal, paths })}\n`);
  // Copied column by column: a value at a time takes a fifth of a second for 10 paths, long
  // enough to delay the monitor's rounds.
  const columns = [...series.values()].flatMap((path) => [path.fine, path.coarse].flatMap(columnsOf));
  const bytes = Buffer.concat([head, ...columns.map((column) => Buffer.from(column.buffer, column.byteOffset, column.byteLength))]);
  if (!LITTLE_ENDIAN) bytes.subarray(head.length).swap32();
  return bytes;
}

const columnsOf = (tier: Tier) => [tier.sent, tier.answered, tier.rttSumMs, tier.rttMaxMs];

/** The series in `bytes` and the id of the journal that continues them, or what is wrong with them. */
export function decodeSeries(bytes: Buffer): { series: Series; journal: string } | { problem: string } {
  const newline = bytes.subarray(0, MAX_HEADER_BYTES).indexOf(10);
  if (newline < 0) return { problem: 'no header line' };
  let parsed: z.infer<typeof header>;
  try {
    const result = header.safeParse(JSON.parse(bytes.toString('utf8', 0, newline)));
    if (!result.success) return { problem: `header: ${result.error.issues[0]!.path.join('.')}: ${result.error.issues[0]!.message}` };
    parsed = result.data;
  } catch (error) {
    return { problem: `header: not JSON: ${(error as Error).message}` };
  }
  const body = bytes.subarray(newline + 1);
  if (body.length !== parsed.paths.length * PATH_BYTES)
    return { problem: `${body.length} bytes of buckets, expected ${parsed.paths.length * PATH_BYTES} (a truncated file?)` };
  const series: Series = new Map();
  let offset = 0;
  for (const { key, link_down, tiers } of parsed.paths) {
    const decoded = [FINE, COARSE].map((shape, i) => {
      const tier = decodeTier(body, offset, shape, tiers[i]!);
      offset += shape.slots * BUCKET_BYTES;
      return tier;
    });
    const [fine, coarse] = decoded;
    if (typeof fine === 'string' || typeof coarse === 'string') return { problem: `${key}: ${typeof fine === 'string' ? fine : coarse}` };
    series.set(key, { fine: fine!, coarse: coarse!, linkDown: link_down } satisfies PathSeries);
  }
  return { series, journal: parsed.journal };
}

function decodeTier(body: Buffer, start: number, shape: TierShape, head: z.infer<typeof tierHeader>): Tier | string {
  if (head.step_s !== shape.stepS || head.slots !== shape.slots)
    return `buckets of ${head.step_s} s × ${head.slots}, expected ${shape.stepS} s × ${shape.slots}`;
  const tier = { ...emptyTier(shape), newest: head.newest };
  let offset = start;
  for (const column of columnsOf(tier)) {
    const bytes = Buffer.from(column.buffer, column.byteOffset, column.byteLength);
    body.copy(bytes, 0, offset, offset + column.byteLength);
    if (!LITTLE_ENDIAN) bytes.swap32();
    offset += column.byteLength;
  }
  for (let i = 0; i < shape.slots; i++) {
    if (!addsUp(tier.sent[i]!, tier.answered[i]!, tier.rttSumMs[i]!, tier.rttMaxMs[i]!))
      return `bucket ${i} of ${shape.stepS} s does not add up`;
  }
  return tier;
}

/** Sums a bucket can hold: no more answered than sent, RTTs finite and not negative. */
export function addsUp(sent: number, answered: number, rttSumMs: number, rttMaxMs: number): boolean {
  // NaN and Infinity fail one comparison or the other.
  return answered <= sent && rttSumMs >= 0 && rttMaxMs >= 0 && Number.isFinite(rttSumMs) && Number.isFinite(rttMaxMs);
}
