// The status document as `netgwm status` and the metrics endpoint see it: from the config, the
// state file and the mode file, at the time asked.
import { join } from 'node:path';
import type { Config } from '../config/load.js';
import { loadState, readMode, STATE_FILE } from '../state/store.js';
import { statusDocument, type StatusDocument } from './status-document.js';

export async function readStatus(config: Config, now: number): Promise<StatusDocument> {
  const [loaded, mode] = await Promise.all([loadState(config.state_dir), modeOf(config)]);
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

/** As a cycle sees it: `netgwm use` (STATE_DIR/mode) wins over the config's `mode` when it names a gateway. */
async function modeOf(config: Config): Promise<string> {
  const pinned = await readMode(config.state_dir);
  return pinned !== undefined && (pinned === 'auto' || config.gateways.some((gateway) => gateway.name === pinned)) ? pinned : config.mode;
}
