// Keeps what the monitor saw (every round's echoes, every link event) in the probe recording, for
// `netgwm replay`. Events are encoded in memory as they come and appended in one write every few
// seconds (no write per echo: flash wear on a router's SD card). `file` is moved to `file.1` when
// the next block would take it past max_size/2, so both together stay within max_size.
// Writing can fail (full disk, read-only file system): that is logged once, and once when it
// works again; monitoring never waits for it and never sees it; what cannot wait is dropped and counted.
import { mkdir, open, readFile, rename, stat, truncate, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { ProbeEvent } from '../core/probe-events.js';
import type { Logger } from '../log/logger.js';
import { BLOCK_TARGET_BYTES, BlockEncoder, FILE_HEADER, startsAsRecording, walkRecording } from './record-format.js';

export interface RecorderOptions {
  file: string;
  /** Bound on `file` and `file.1` together. */
  maxBytes: number;
  log: Logger;
  /** Milliseconds between writes; 0: only when flush() is called. */
  flushEveryMs?: number;
}

export interface Recorder {
  /** Takes an event (never throws, never waits). */
  record(event: ProbeEvent): void;
  /** Writes what was recorded so far (never throws: a failure is logged). */
  flush(): Promise<void>;
  /** Flushes and stops the timer; later events are ignored. */
  close(): Promise<void>;
}

export const DEFAULT_FLUSH_EVERY_MS = 10_000;
/** Encoded events kept in memory while the file cannot be written: at default rates, about two hours of 2 gateways × 2 sites. */
const MAX_WAITING_BYTES = 1 << 20;
/** Writes per flush at most, should the file keep changing under the recorder. */
const MAX_ATTEMPTS = 4;

export function openRecorder(options: RecorderOptions): Recorder {
  const { file, log } = options;
  const rotated = `${file}.1`;
  const half = Math.floor(options.maxBytes / 2);
  const waitingLimit = Math.min(half, MAX_WAITING_BYTES);
  const encoder = new BlockEncoder();
  /** Sealed blocks not written yet. */
  const waiting: Uint8Array[] = [];
  let waitingBytes = 0;
  let dropped = 0;
  let failing = false;
  let closed = false;
  /** The size of `file` as the recorder left it; undefined: to be checked before the next write. */
  let size: number | undefined;
  let writing: Promise<void> = Promise.resolve();

  const seal = () => {
    const block = encoder.seal();
    if (!block) return;
    waiting.push(block);
    waitingBytes += block.length;
  };

  /** Creates `file`, or checks the one there and cuts off a block a crash or full disk left unfinished. */
  const prepare = async (): Promise<number> => {
    await mkdir(dirname(file), { recursive: true });
    const found = await stat(file).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
    if (found && found.size > 0) {
      if (!startsAsRecording(await readStart(file, FILE_HEADER.length)))
        throw new Error(`${file} is not a netgwm probe recording, so it is left alone: move it away or set record.file to another path`);
      if (found.size >= half) return rotate(); // written with a larger max_size
      const walk = walkRecording(await readFile(file), file);
      if (walk.validEnd >= FILE_HEADER.length) {
        if (walk.damaged) await truncate(file, walk.validEnd);
        return walk.validEnd;
      }
    }
    await writeFile(file, FILE_HEADER);
    return FILE_HEADER.length;
  };

  const rotate = async (): Promise<number> => {
    await rename(file, rotated);
    await writeFile(file, FILE_HEADER);
    return FILE_HEADER.length;
  };

  /** Appends `bytes` if `file` is still as the recorder left it; false if it is not (re-check it). */
  const append = async (bytes: Uint8Array, expected: number): Promise<boolean> => {
    const handle = await open(file, 'a');
    try {
      if ((await handle.stat()).size !== expected) return false;
      await handle.appendFile(bytes);
      return true;
    } finally {
      await handle.close();
    }
  };

  const writeWaiting = async (): Promise<void> => {
    try {
      for (let attempt = 0; waiting.length > 0 && attempt < MAX_ATTEMPTS; attempt++) {
        size ??= await prepare();
        if (size > FILE_HEADER.length && size + waiting[0]!.length > half) size = await rotate();
        let count = 0;
        let bytes = 0;
        while (count < waiting.length && (count === 0 || size + bytes + waiting[count]!.length <= half)) bytes += waiting[count++]!.length;
        const chunk = concat(waiting.slice(0, count), bytes);
        const known = size;
        // Until it is done, the file's end is unknown (a write may stop half way): check it first next time.
        size = undefined;
        if (!(await append(chunk, known))) continue;
        size = known + bytes;
        waiting.splice(0, count);
        waitingBytes -= bytes;
      }
      if (failing && waiting.length === 0) {
        failing = false;
        log.event({ kind: 'record-resumed', file, dropped });
        dropped = 0;
      }
    } catch (error) {
      size = undefined;
      if (!failing) log.event({ kind: 'record-failed', file, error: (error as Error).message, waitingLimit });
      failing = true;
    }
  };

  const flush = (): Promise<void> => {
    seal();
    writing = writing.then(writeWaiting);
    return writing;
  };

  const timer = options.flushEveryMs === 0 ? undefined : setInterval(() => void flush(), options.flushEveryMs ?? DEFAULT_FLUSH_EVERY_MS);
  timer?.unref();

  return {
    record(event) {
      if (closed) return;
      if (waitingBytes + encoder.size >= waitingLimit) {
        dropped++;
        return;
      }
      if (!encoder.add(event)) {
        seal();
        encoder.add(event);
      }
      if (encoder.size >= BLOCK_TARGET_BYTES) seal();
    },
    flush,
    async close() {
      clearInterval(timer);
      closed = true;
      await flush();
    },
  };
}

function concat(blocks: Uint8Array[], bytes: number): Uint8Array {
  if (blocks.length === 1) return blocks[0]!;
  const all = new Uint8Array(bytes);
  let at = 0;
  for (const block of blocks) {
    all.set(block, at);
    at += block.length;
  }
  return all;
}

async function readStart(file: string, length: number): Promise<Uint8Array> {
  const handle = await open(file, 'r');
  try {
    const { bytesRead, buffer } = await handle.read(new Uint8Array(length), 0, length, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}
