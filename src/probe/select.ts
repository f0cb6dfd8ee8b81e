// Which Ping the cycles use: net-ping's native raw socket when it loads, else iputils ping(8).
// The native module is compiled for one Node ABI; after a Node upgrade (or on Debian's nodejs 18
// with a package built on Node 20) it cannot load, and probing must still work.
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../config/load.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { writeFileAtomic } from '../state/store.js';
import type { Exec } from '../system/exec.js';
import { loadIcmp, pingAddress } from './icmp.js';
import type { Ping } from './probe.js';
import { createSystemPing } from './system-ping.js';

/** In the state dir: why native ICMP failed, so a cron job warns once, not every minute. */
export const FALLBACK_FILE = 'probe-fallback';

export async function choosePing(config: Pick<Config, 'file' | 'probe' | 'state_dir'>, deps: { log: Logger; exec: Exec }): Promise<Ping> {
  const { method } = config.probe;
  if (method === 'ping') return createSystemPing(deps.exec);
  const problem = await loadIcmp().then(
    () => undefined,
    // Node's message for a module built for another ABI spans lines; a log line must not.
    (error: Error) => error.message.replace(/\s*\n\s*/g, ' '),
  );
  const marker = join(config.state_dir, FALLBACK_FILE);
  if (problem === undefined) {
    if (method === 'auto') await rm(marker, { force: true }).catch(() => undefined);
    return pingAddress;
  }
  if (method === 'icmp') {
    throw new ConfigError([`${config.file}: probe.method: "icmp" cannot work here: ${problem}; set it to "auto" or "ping"`]);
  }
  if (await isNews(marker, problem)) deps.log.event({ kind: 'probe-fallback', error: problem });
  return createSystemPing(deps.exec);
}

/** True (and remembered) when `problem` differs from the one last warned about. */
async function isNews(marker: string, problem: string): Promise<boolean> {
  const known = await readFile(marker, 'utf8').catch(() => undefined);
  if (known?.trim() === problem) return false;
  // A state dir we cannot write means warning every time, which beats never warning.
  await writeFileAtomic(marker, `${problem}\n`).catch(() => undefined);
  return true;
}
