// NetGWM's status files, for scripts written against the original: `<status_dir>/<gateway>` holds
// `up:<site>:<avg rtt ms>` (the first check site that answered, in config order) or `down`, without
// a newline, for each gateway probed in the last IPv4 cycle.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../state/store.js';
import type { GatewayStatus, StatusDocument } from './status-document.js';

export function statusFileText(gateway: GatewayStatus): string {
  const first = gateway.sites.find((site) => site.answered);
  if (gateway.state !== 'up' || !first) return 'down';
  return `up:${first.site}:${first.rtt_ms === null ? 'NaN' : first.rtt_ms.toFixed(3)}`;
}

/** Rewrites (atomically) only the files whose text changed. */
export async function writeStatusFiles(dir: string, doc: StatusDocument): Promise<void> {
  for (const gateway of doc.gateways) {
    // NetGWM's files say how IPv4 goes (IPv6 is in `netgwm status` and the metrics).
    if (!gateway.fresh || gateway.family !== 4) continue;
    const file = join(dir, gateway.name);
    const text = statusFileText(gateway);
    if ((await readFile(file, 'utf8').catch(() => undefined)) !== text) await writeFileAtomic(file, text);
  }
}
