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
