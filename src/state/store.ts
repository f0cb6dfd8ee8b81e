// The state file: what each gateway did and when, kept across runs and reboots. Written
// atomically; a missing, empty, truncated or garbage file means "no history", never a crash.
import { constants } from 'node:fs';
import { open, mkdir, rename, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import * as z from 'zod';
import { effectiveMode, type EffectiveMode } from '../core/mode.js';
import { emptyState, type State } from '../core/types.js';
import { readRegularFile, UnreadableFileError } from '../system/regular-file.js';

export const STATE_FILE = 'state.json';
/** The IPv6 decision's state: the same shape as the IPv4 one's, in a file of its own (README "IPv6"). */
export const STATE_FILE_IPV6 = 'state-ipv6.json';

/** The state file of a family's decision: `state.json` for IPv4 (as before IPv6 existed), `state-ipv6.json` for IPv6. */
export const stateFileOf = (family: 4 | 6 = 4): string => (family === 6 ? STATE_FILE_IPV6 : STATE_FILE);
export const MODE_FILE = 'mode';
/** Far above what 64 gateways' windows take; a larger file is not one netgwm wrote. */
const MAX_STATE_BYTES = 16 << 20;
const MAX_MODE_BYTES = 4096;

const time = z.number().finite();
const count = z.number().int().nonnegative();
const gatewayInfo = z.object({ name: z.string(), ip: z.string().optional(), dev: z.string().optional() });
const stateSchema = z.object({
  version: z.literal(1),
  lastCycleAt: time.optional(),
  gateways: z.record(
    z.string(),
    z.object({
      up: z.boolean(),
      since: time,
      checkedAt: time,
      reason: z.string().max(1000).optional(),
      degraded: z.literal(true).optional(),
    }),
  ),
  allDownSince: time.optional(),
  pinnedDown: z.string().optional(),
  ignoredModeFile: z.string().optional(),
  lastSwitch: z
    .object({ at: time, from: z.string().optional(), to: z.string(), reason: z.string(), incomplete: z.array(z.string()).optional() })
    .optional(),
  balance: z
    .object({
      tiers: z.record(z.string(), z.array(z.string())),
      rules: z.array(z.string().nullable()),
      used: z.array(z.string()),
    })
    .optional(),
  firewall: z
    .object({
      hash: z.string(),
      listing: z.string(),
      table: z.string().optional(),
      rulePref: z.number().int(),
      netns: z.string(),
      verifiedAt: time,
    })
    .optional(),
  resolved: z.record(z.string(), z.string()).default({}),
  unresolved: z.record(z.string(), z.object({ since: time, failures: count, retryAt: time, error: z.string() })).optional(),
  // Added for status and metrics; a state file written before them loads without them.
  active: z.string().optional(),
  samples: z
    .record(z.string(), z.array(z.object({ at: time, site: z.string(), sent: count, replies: count, rttMs: time.optional() })))
    .optional(),
  totals: z.object({ switches: count, hookFailures: count }).optional(),
  lastCycleMs: time.optional(),
  pendingHooks: z
    .object({
      to: gatewayInfo,
      from: gatewayInfo.optional(),
      reason: z.string(),
      done: z.array(z.string()),
      at: time.optional(),
      unconfirmed: z.literal(true).optional(),
    })
    .optional(),
  foreignDefault: z.string().optional(),
  refusedHooks: z.record(z.string(), z.string()).optional(),
  addresses: z.record(z.string(), z.string()).optional(),
});

// State is declared in src/core/types.ts (the core imports nothing from outside itself); this
// schema must describe exactly that type, field for field, or the build fails here.
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const schemaDescribesState: Equal<z.output<typeof stateSchema>, State> = true;
void schemaDescribesState;

export type LoadedState = { state: State; problem?: string };

export async function loadState(stateDir: string, family: 4 | 6 = 4): Promise<LoadedState> {
  const file = join(stateDir, stateFileOf(family));
  let text: string;
  try {
    text = await readRegularFile(file, MAX_STATE_BYTES);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { state: emptyState() };
    return { state: emptyState(), problem: (error as Error).message };
  }
  return parseState(text);
}

export function parseState(text: string): LoadedState {
  if (text.trim() === '') return { state: emptyState(), problem: 'empty file' };
  let data: unknown;
  try {
    // A `__proto__` key would become the object's prototype once copied; no name of ours is one.
    data = JSON.parse(text, (key, value: unknown) => (key === '__proto__' ? undefined : value));
  } catch (error) {
    return { state: emptyState(), problem: `not JSON: ${(error as Error).message}` };
  }
  const parsed = stateSchema.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return { state: emptyState(), problem: `${issue.path.join('.') || 'top level'}: ${issue.message}` };
  }
  return { state: parsed.data };
}

export async function saveState(stateDir: string, state: State, family: 4 | 6 = 4): Promise<void> {
  await writeFileAtomic(join(stateDir, stateFileOf(family)), `${JSON.stringify(state, null, 1)}\n`);
}

/**
 * Create an exclusive temporary file (never through a link someone planted, at a random name no
 * one can guess), write it, fsync, rename it over the old one, fsync the directory. A failed write
 * (a full disk) removes the temporary file instead of leaving it behind.
 */
export async function writeFileAtomic(file: string, text: string | Uint8Array, mode = 0o644): Promise<void> {
  const directory = dirname(file);
  await mkdir(directory, { recursive: true });
  // Imported here: `netgwm status` reads the state and never writes, and node:crypto takes a while to load.
  const { randomBytes } = await import('node:crypto');
  const temporary = `${file}.tmp-${randomBytes(8).toString('hex')}`;
  const handle = await open(temporary, EXCLUSIVE_NEW_FILE, mode);
  try {
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, file);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
  const dir = await open(directory, 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

const EXCLUSIVE_NEW_FILE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/**
 * The mode in force (see src/core/mode.ts): the config's `mode` when written, else STATE_DIR/mode,
 * else auto. A mode file that is no regular file (a FIFO…) counts as none, with the `problem`.
 */
export async function readEffectiveMode(config: {
  state_dir: string;
  mode?: string;
  gateways: Array<{ name: string }>;
}): Promise<EffectiveMode & { problem?: string }> {
  const names = config.gateways.map((gateway) => gateway.name);
  try {
    return effectiveMode(config.mode, await readMode(config.state_dir), names);
  } catch (error) {
    return { ...effectiveMode(config.mode, undefined, names), problem: (error as Error).message };
  }
}

/**
 * The pinned gateway (`netgwm use NAME`), `auto`, or undefined when never set (or unreadable);
 * throws an UnreadableFileError when it is no regular file (a FIFO…) or far too large.
 */
export async function readMode(stateDir: string): Promise<string | undefined> {
  const text = await readRegularFile(join(stateDir, MODE_FILE), MAX_MODE_BYTES).catch((error: unknown) => {
    if (error instanceof UnreadableFileError) throw error;
    return undefined;
  });
  const mode = text?.trim();
  return mode ? mode : undefined;
}

export async function writeMode(stateDir: string, mode: string): Promise<void> {
  await writeFileAtomic(join(stateDir, MODE_FILE), `${mode}\n`);
}
