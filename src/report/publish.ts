// After every cycle: NetGWM's status files and the metrics file, from the state just saved. A
// failure here is logged and never fails the cycle: routing does not depend on reports.
import type { Config } from '../config/load.js';
import type { Logger } from '../log/logger.js';
import { writeFileAtomic } from '../state/store.js';
import type { FamilyStates } from '../cycle.js';
import { renderMetrics } from './metrics.js';
import { cycleStatus } from './read-status.js';
import { writeStatusFiles } from './status-files.js';
import type { Exec } from '../system/exec.js';
import { countConnectionsByMark } from '../system/conntrack.js';

/**
 * Tracked connections per marked gateway, when netgwm's nft table marks them; undefined without
 * marks or `exec`, or when conntrack cannot be read (the other metrics are still written).
 */
export async function gatewayConnections(config: Config, exec: Exec | undefined): Promise<Record<string, number> | undefined> {
  const nftables = config.nftables;
  const marked = config.gateways.filter((gateway) => gateway.mark !== undefined);
  if (!exec || !nftables?.enabled || marked.length === 0) return undefined;
  const counts = await countConnectionsByMark(exec, nftables.mask).catch(() => undefined);
  return counts && Object.fromEntries(marked.map((gateway) => [gateway.name, counts.get((gateway.mark! & nftables.mask) >>> 0) ?? 0]));
}

export async function publishReports(
  config: Config,
  states: FamilyStates,
  modes: Partial<Record<4 | 6, string>>,
  log: Logger,
  now: number,
  exec?: Exec,
): Promise<void> {
  const { status_dir: statusDir, metrics_file: metricsFile } = config;
  if (statusDir === false && metricsFile === undefined) return;
  const doc = cycleStatus(config, states, modes, now);
  const failed = (what: string) => (error: unknown) => log.event({ kind: 'report-failed', what, error: (error as Error).message });
  if (statusDir !== false) await writeStatusFiles(statusDir, doc).catch(failed(`the status files in ${statusDir}`));
  if (metricsFile !== undefined)
    await gatewayConnections(config, exec)
      .then((connections) => renderMetrics(doc, connections))
      .then((text) => writeFileAtomic(metricsFile, text))
      .catch(failed(`the metrics file ${metricsFile}`));
}
