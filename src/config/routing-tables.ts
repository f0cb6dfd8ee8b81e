// Routing table names live in iproute2's rt_tables files. Resolving the name once at load time
// turns a typo into a config error instead of a failed `ip route` in the middle of a cycle.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { readRegularFile } from '../system/regular-file.js';

// iproute2 reads /etc first and, since 6.x, also its defaults under /usr/share or /usr/lib.
const DIRECTORIES = ['etc/iproute2', 'usr/share/iproute2', 'usr/lib/iproute2'];
const RESERVED = new Map([
  ['local', 255],
  ['main', 254],
  ['default', 253],
  ['unspec', 0],
]);
const MAX_TABLES_BYTES = 1 << 20;
/** Table ids are 32-bit numbers in the kernel. */
const MAX_TABLE_ID = 0xffffffff;

/** The number a table is written as (`100`, `"100"`) or declared under, if any. */
export function tableId(table: string | number, names: Map<string, number>): number | undefined {
  return typeof table === 'number' ? table : /^\d+$/.test(table) ? Number(table) : names.get(table);
}

/** A message when `id` is no table id the kernel has (0 is "unspec"); undefined when it is one. */
export function tableIdRangeProblem(table: string | number, id: number): string | undefined {
  if (Number.isSafeInteger(id) && id >= 1 && id <= MAX_TABLE_ID) return undefined;
  return `expected a routing table number from 1 to ${MAX_TABLE_ID}, got ${JSON.stringify(table)}${String(id) === String(table) ? '' : ` (${id})`}`;
}

/** The table's number, or a message saying what is wrong with it. */
export async function resolveRoutingTable(table: string | number, root = '/'): Promise<number | string> {
  const id = tableId(table, typeof table === 'string' && !/^\d+$/.test(table) ? await readTableNames(root) : new Map());
  if (id === undefined) {
    return `routing table ${JSON.stringify(table)} is not declared in /etc/iproute2/rt_tables or rt_tables.d/*.conf; add a line such as "194 ${table}" to /etc/iproute2/rt_tables.d/netgwm.conf`;
  }
  const outOfRange = tableIdRangeProblem(table, id);
  if (outOfRange) return outOfRange;
  if ([...RESERVED.values()].includes(id)) {
    return `expected a table of netgwm's own, got ${JSON.stringify(table)}, which is the system table ${id}; netgwm empties this table on every run`;
  }
  return id;
}

export async function readTableNames(root = '/'): Promise<Map<string, number>> {
  // Read all at once (a config load waits for each round trip), never waiting on a FIFO.
  const texts = await Promise.all(
    DIRECTORIES.map(async (directory) => {
      const base = join(root, directory);
      const files = [join(base, 'rt_tables'), ...(await listConf(join(base, 'rt_tables.d')))];
      return Promise.all(files.map((file) => readRegularFile(file, MAX_TABLES_BYTES).catch(() => '')));
    }),
  );
  const names = new Map<string, number>();
  for (const text of texts.flat()) {
    for (const [name, id] of parseTableLines(text)) if (!names.has(name)) names.set(name, id);
  }
  return names;
}

export function parseTableLines(text: string): Array<[string, number]> {
  const entries: Array<[string, number]> = [];
  for (const line of text.split('\n')) {
    const match = /^\s*(0x[0-9a-f]+|\d+)\s+([^\s#]+)/i.exec(line);
    if (match) entries.push([match[2]!, Number(match[1])]);
  }
  return entries;
}

async function listConf(directory: string): Promise<string[]> {
  const entries = await readdir(directory).catch(() => []);
  return entries
    .filter((entry) => entry.endsWith('.conf'))
    .sort()
    .map((entry) => join(directory, entry));
}
