// conntrackd's client commands on a role change, in primary-backup.sh's order (src/core/cluster.ts).
import type { ClusterSettings } from '../config/cluster.js';
import { conntrackdSteps, type Role } from '../core/cluster.js';
import type { Logger } from '../log/logger.js';
import type { Exec } from '../system/exec.js';

/** A client command waits on conntrackd's socket; a hung daemon must not hold the takeover longer. */
const STEP_TIMEOUT_MS = 10_000;

/** Runs every step (also after a failed one); returns the flags that failed. */
export async function syncConntrackd(cluster: ClusterSettings, role: Role, exec: Exec, log: Logger): Promise<string[]> {
  const failed: string[] = [];
  const steps = conntrackdSteps(role);
  for (const step of steps) {
    const result = await exec('conntrackd', ['-C', cluster.conntrackd_config, step.flag], { reject: false, timeoutMs: STEP_TIMEOUT_MS });
    if (result.exitCode === 0) continue;
    failed.push(step.flag);
    const error = (result.stderr || result.stdout).trim().split('\n').at(-1) || `exit code ${result.exitCode}`;
    log.event({ kind: 'conntrackd-failed', flag: step.flag, does: step.does, error });
  }
  if (failed.length === 0) log.event({ kind: 'conntrackd-done', role, flags: steps.map((step) => step.flag) });
  return failed;
}
