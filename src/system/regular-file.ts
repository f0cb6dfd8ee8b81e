// Reading a file netgwm is told to read (config, state, mode) without ever waiting on it: a FIFO
// opened for reading blocks until a writer comes, a device can be endless. Opened non-blocking,
// checked with fstat, read up to a bound.
import { constants, type Stats } from 'node:fs';
import { open } from 'node:fs/promises';

/** The file is there but is not a regular file, or is larger than the caller accepts; the message says which ("it is a FIFO, …"). */
export class UnreadableFileError extends Error {
  override name = 'UnreadableFileError';
}

/** `check` may throw to refuse the file by its owner or mode, seen on the very file read (no race with a rename). */
export async function readRegularFile(path: string, maxBytes: number, check?: (stats: Stats) => void): Promise<string> {
  return (await readRegularBytes(path, maxBytes, check)).toString('utf8');
}

/** readRegularFile's bytes, for a binary file. */
export async function readRegularBytes(path: string, maxBytes: number, check?: (stats: Stats) => void): Promise<Buffer> {
  // O_NONBLOCK: opening a FIFO with no writer returns at once instead of waiting for one.
  const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) throw new UnreadableFileError(`it is ${describeType(stats)}, not a regular file`);
    if (stats.size > maxBytes) throw new UnreadableFileError(tooLarge(maxBytes));
    check?.(stats);
    // Sized by fstat, not by the bound (the series' bound is 35 MB for a file of 3), and grown
    // only if the file grows meanwhile, never past the bound. Not zeroed: only the bytes read are used.
    let buffer: Buffer = Buffer.allocUnsafe(stats.size + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      length += bytesRead;
      if (bytesRead === 0 || length > maxBytes) break;
      if (length === buffer.length) buffer = grown(buffer, length, maxBytes + 1);
    }
    if (length > maxBytes) throw new UnreadableFileError(tooLarge(maxBytes));
    return buffer.subarray(0, length);
  } finally {
    await handle.close();
  }
}

/** A buffer twice as large (at most `limit` bytes) holding the first `length` bytes of `buffer`. */
function grown(buffer: Buffer, length: number, limit: number): Buffer {
  const larger = Buffer.allocUnsafe(Math.min(buffer.length * 2, limit));
  buffer.copy(larger, 0, 0, length);
  return larger;
}

function tooLarge(maxBytes: number): string {
  const size =
    maxBytes % (1 << 20) === 0 ? `${maxBytes / (1 << 20)} MiB` : maxBytes % 1024 === 0 ? `${maxBytes / 1024} KiB` : `${maxBytes} bytes`;
  return `it is larger than ${size}, the most accepted`;
}

function describeType(stats: {
  isDirectory(): boolean;
  isFIFO(): boolean;
  isSocket(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
}): string {
  if (stats.isDirectory()) return 'a directory';
  if (stats.isFIFO()) return 'a FIFO';
  if (stats.isSocket()) return 'a socket';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  return 'not a regular file';
}
