// netgwm's nft table, checked, loaded and listed with nft(8). Every file is one transaction:
// nft applies all of it or nothing, so a rejected file leaves the loaded rules as they were.
import { CommandError } from '../errors.js';
import type { Exec } from './exec.js';

/** `nft -c -f -` (the kernel checks it without applying), then `nft -f -`. */
export async function loadRuleset(exec: Exec, text: string): Promise<void> {
  await exec('nft', ['-c', '-f', '-'], { input: text });
  await exec('nft', ['-f', '-'], { input: text });
}

/**
 * `nft -t list table FAMILY NAME` as nft prints it, or undefined when there is no such table.
 * Terse: without the elements of named sets, which packets add (sticky sources), so the listing
 * changes only when someone changes the table.
 */
export async function listTable(exec: Exec, table: string): Promise<string | undefined> {
  try {
    return (await exec('nft', ['-t', 'list', 'table', ...table.split(' ')])).stdout;
  } catch (error) {
    if (error instanceof CommandError && /No such file or directory/.test(error.stderr)) return undefined;
    throw error;
  }
}

/** A source address in a sticky set and the seconds it has left. */
export interface SetElement {
  address: string;
  expiresS: number;
}

/** The elements of a named set of netgwm's table (`nft -j list set`); none when the set or table is missing. */
export async function listSetElements(exec: Exec, table: string, set: string): Promise<SetElement[]> {
  const result = await exec('nft', ['-j', 'list', 'set', ...table.split(' '), set], { reject: false });
  if (result.exitCode !== 0) return [];
  const items = (JSON.parse(result.stdout || '{}') as { nftables?: Array<{ set?: { elem?: unknown[] } }> }).nftables ?? [];
  return items
    .flatMap((item) => item.set?.elem ?? [])
    .map((entry) => (entry as { elem?: { val?: unknown; expires?: unknown } }).elem)
    .filter((elem) => typeof elem?.val === 'string' && typeof elem.expires === 'number' && elem.expires > 0)
    .map((elem) => ({ address: elem!.val as string, expiresS: elem!.expires as number }));
}
