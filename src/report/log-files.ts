// The log and its rotated parts (`netgwm.log.1`, `netgwm.log.2.gz`, … as logrotate leaves them),
// read line by line, oldest first; compressed parts through zlib, never a shell.
import { createReadStream } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';

/** More rotated parts than this are not read (logrotate keeps 4 by default on Debian). */
const MAX_PARTS = 50;

/** The existing parts of `logFile`, oldest first: `.N(.gz)` by falling N, then the file itself. */
export async function logParts(logFile: string): Promise<string[]> {
  const dir = dirname(logFile);
  const base = basename(logFile);
  const names = await readdir(dir).catch(() => [] as string[]);
  const rotated = names
    .map((name) => ({ name, match: name.startsWith(`${base}.`) ? /^(\d+)(\.gz)?$/.exec(name.slice(base.length + 1)) : null }))
    .filter((entry) => entry.match !== null)
    .sort((a, b) => Number(b.match![1]) - Number(a.match![1]))
    .slice(-MAX_PARTS)
    .map((entry) => join(dir, entry.name));
  return names.includes(base) ? [...rotated, logFile] : rotated;
}

/** Calls `onLine` for every line of one part, decompressing `.gz` parts. */
export async function readLines(file: string, onLine: (line: string) => void): Promise<void> {
  const raw = createReadStream(file);
  const input = file.endsWith('.gz') ? raw.pipe(createGunzip()) : raw;
  const failed = new Promise<never>((_, reject) => {
    raw.once('error', reject);
    input.once('error', (error: Error) => reject(new Error(`${file}: ${error.message}`)));
  });
  const lines = createInterface({ input, crlfDelay: Infinity });
  try {
    await Promise.race([
      (async () => {
        for await (const line of lines) onLine(line);
      })(),
      failed,
    ]);
  } finally {
    lines.close();
    raw.destroy();
  }
}
