// Forgetting tracked connections on a switch, so they are re-established over the new uplink.
import { readFile } from 'node:fs/promises';
import { CommandError } from '../errors.js';
import { hex } from '../core/ruleset.js';
import type { Exec } from './exec.js';

export type Flush = 'all' | 'udp' | 'old';

/**
 * The `conntrack -D` filter for `flush`; `old` needs the old gateway's mark. `-D` rather than
 * `-F` even for `all`, because only `-D` reports how many entries it deleted.
 */
export function flushFilter(flush: Flush, oldMark: number | undefined, mask: number): string[] {
  if (flush === 'udp') return ['-p', 'udp'];
  if (flush === 'old') {
    if (oldMark === undefined) throw new RangeError("flush: old needs the old gateway's mark");
    return ['--mark', `${hex(oldMark)}/${hex(mask)}`];
  }
  return [];
}

/** Deletes the entries `filter` matches in this network namespace; returns how many. */
export async function deleteFlows(exec: Exec, filter: string[]): Promise<number> {
  const argv = ['-D', ...filter];
  const result = await exec('conntrack', argv, { reject: false });
  // conntrack prints "conntrack v1.4.7 (conntrack-tools): 3 flow entries have been deleted." on
  // stderr, and exits 1 when nothing matched: that is no error.
  const count = /(\d+) flow entries have been deleted/.exec(result.stderr)?.[1];
  if (count !== undefined && (result.exitCode === 0 || (result.exitCode === 1 && count === '0'))) return Number(count);
  throw new CommandError(
    ['conntrack', ...argv],
    result.exitCode < 0 ? undefined : result.exitCode,
    result.stderr || 'no output (is conntrack installed and are we root?)',
  );
}

/**
 * How many tracked connections carry each mark under `mask`, in this network namespace: one read
 * of /proc/net/nf_conntrack (no process; about 0.1 s for 10,000 entries here, nearly all of it the
 * kernel writing the text; `conntrack -L` took 0.18 s), or one `conntrack -L` when the kernel has
 * no such file. For metrics only, at a scrape or a cycle's report, never in a decision.
 */
export async function countConnectionsByMark(exec: Exec, mask: number): Promise<Map<number, number>> {
  const text = await readFile('/proc/net/nf_conntrack', 'utf8').catch(async () => (await exec('conntrack', ['-L'])).stdout);
  return countMarks(text, mask);
}

/** Entries per mark under `mask` in /proc/net/nf_conntrack's or `conntrack -L`'s lines (both print `mark=DECIMAL`). */
export function countMarks(text: string, mask: number): Map<number, number> {
  const counts = new Map<number, number>();
  for (const [, mark] of text.matchAll(/\bmark=(\d+)/g)) {
    const masked = (Number(mark) & mask) >>> 0;
    counts.set(masked, (counts.get(masked) ?? 0) + 1);
  }
  return counts;
}
