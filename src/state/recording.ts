// Reads the probe recording the daemon keeps (src/state/recorder.ts) back into the events the
// monitor saw, for `netgwm replay`.
import { readFile, stat } from 'node:fs/promises';
import type { ProbeEvent } from '../core/probe-events.js';
import { checkRecording, RecordingError, recordingEventsOf, recordingSpan } from './record-format.js';

export { RecordingError } from './record-format.js';

export interface ReadOptions {
  /**
   * Told about the end of a file that is not whole blocks (a write cut short by a crash or a full
   * disk): it is skipped, never read. Default: skipped silently.
   */
  onDamaged?: (message: string) => void;
}

/**
 * The events of the files, in order (the rotated `FILE.1` before `FILE`: see recordingFiles).
 * Echo objects are shared between rounds (a day has millions of echoes, few distinct): read-only.
 */
export async function readRecording(files: string[], options: ReadOptions = {}): Promise<ProbeEvent[]> {
  const events: ProbeEvent[] = [];
  await visitRecording(files, (event) => events.push(event), options);
  return events;
}

/**
 * The same, one event at a time, without keeping them: a day at default rates is over a million
 * rounds, and keeping them all costs several times what decoding them does.
 */
export async function visitRecording(files: string[], visit: (event: ProbeEvent) => void, options: ReadOptions = {}): Promise<void> {
  for (const event of (await recordingEvents(files, options)).events) visit(event);
}

/**
 * The events of the files as an iterable that decodes a block at a time each time it is gone
 * through, and their span (from the first and last blocks): the files' bytes are kept (at most
 * record.max_size), the millions of events are not.
 */
export async function recordingEvents(
  files: string[],
  options: ReadOptions = {},
): Promise<{ events: Iterable<ProbeEvent>; span?: { startAt: number; endAt: number } }> {
  const read: Array<{ file: string; bytes: Uint8Array }> = [];
  for (const file of files) read.push({ file, bytes: await readRecordingFile(file) });
  // Checked once (every file read first), for the span and every time the events are gone through.
  const contents = read.map(({ file, bytes }) => checkRecording(bytes, file));
  // Told once per file, however many times the events are gone through.
  const reported = new Set<string>();
  const report = (file: string, bytes: Uint8Array, damaged: { offset: number; why: string }) => {
    if (!reported.has(file)) options.onDamaged?.(damagedMessage(file, bytes, damaged));
    reported.add(file);
  };
  const span = recordingSpan(contents);
  return { events: { [Symbol.iterator]: () => recordingEventsOf(contents, report) }, ...(span && { span }) };
}

async function readRecordingFile(file: string): Promise<Uint8Array> {
  try {
    return await readFile(file);
  } catch (error) {
    throw new RecordingError(`${file}: cannot read the recording: ${(error as Error).message}`);
  }
}

function damagedMessage(file: string, bytes: Uint8Array, damaged: { offset: number; why: string }): string {
  return `${file}: offset ${damaged.offset}: ${damaged.why}; skipped the last ${bytes.length - damaged.offset} bytes (a write cut short)`;
}

/** A recording as the recorder keeps it: `FILE.1` (if it exists) then `FILE`. */
export async function recordingFiles(file: string): Promise<string[]> {
  const rotated = `${file}.1`;
  const exists = await stat(rotated).then(
    () => true,
    () => false,
  );
  return exists ? [rotated, file] : [file];
}
