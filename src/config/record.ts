// The `record` key: where the daemon keeps what its monitor saw (src/state/recorder.ts), for
// `netgwm replay`. Absent (a NetGWM config) or false: nothing is recorded.
import { join, resolve } from 'node:path';
import * as z from 'zod';
import { filePath } from './reports.js';

/** Keeps at least the last day of 2 gateways × 2 sites at the default probe rates (about 7 MB a day). */
export const DEFAULT_RECORD_BYTES = 16 << 20;
export const RECORD_FILE_NAME = 'probes.rec';
const MIN_BYTES = 64 << 10;
const MAX_BYTES = 1 << 30;
const UNITS: Record<string, number> = { '': 1, K: 1 << 10, M: 1 << 20, G: 1 << 30 };

/** `4M`, `512K`, `1G` (powers of 1024) or a number of bytes; undefined if it is none of those or out of bounds. */
export function parseSize(value: number | string): number | undefined {
  const match = typeof value === 'number' ? ['', String(value), ''] : /^(\d+(?:\.\d+)?) ?([KMG]?)B?$/i.exec(value.trim());
  if (!match) return undefined;
  const bytes = Math.floor(Number(match[1]) * UNITS[match[2]!.toUpperCase()]!);
  return Number.isFinite(bytes) && bytes >= MIN_BYTES && bytes <= MAX_BYTES ? bytes : undefined;
}

const size = z
  .union([z.number(), z.string()])
  .refine((value) => parseSize(value) !== undefined, 'expected a size from 64K to 1G such as 16M, 512K or a number of bytes')
  .transform((value) => parseSize(value)!);

export const recordSchema = z.union([
  z.boolean(),
  z.strictObject({
    /** Default: probes.rec in state_dir. The rotated half is FILE.1. */
    file: filePath.optional(),
    /** Bound on FILE and FILE.1 together. */
    max_size: size.optional(),
  }),
]);

export interface RecordSettings {
  file: string;
  max_size: number;
}

/** `record` with its defaults, the file made absolute (relative to the config's directory). */
export function compileRecord(
  record: z.output<typeof recordSchema> | undefined,
  stateDir: string,
  configDir: string,
): RecordSettings | false {
  if (record === undefined || record === false) return false;
  const settings = record === true ? {} : record;
  return {
    file: settings.file === undefined ? join(stateDir, RECORD_FILE_NAME) : resolve(configDir, settings.file),
    max_size: settings.max_size ?? DEFAULT_RECORD_BYTES,
  };
}
