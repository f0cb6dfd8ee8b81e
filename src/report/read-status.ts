// The status document as `netgwm status` and the metrics endpoint see it: from the config, the
// state file and the mode file, at the time asked.
import { join } from 'node:path';
import type { Config } from '../config/load.js';
import { loadState, readEffectiveMode, STATE_FILE } from '../state/store.js';
import { statusDocument, type StatusDocument } from './status-document.js';

export async function readStatus(config: Config, now: number): Promise<StatusDocument> {
  const [loaded, { mode }] = await Promise.all([loadState(config.state_dir), readEffectiveMode(config)]);
  return statusDocument({
    config,
    state: loaded.state,
    stateFile: join(config.state_dir, STATE_FILE),
    hasState: loaded.problem === undefined && loaded.state.lastCycleAt !== undefined,
    stateProblem: loaded.problem,
    mode,
    now,
  });
}
