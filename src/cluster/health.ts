// `netgwm health`: keepalived's track_script. Reads the saved state only (no lock, no probe, no
// `ip`), so it answers at once even while a cycle runs.
import { DEFAULT_MAX_STATE_AGE_S } from '../config/cluster.js';
import { familyView } from '../config/families.js';
import type { Config } from '../config/load.js';
import { healthVerdict, type HealthVerdict } from '../core/cluster.js';
import { loadState } from '../state/store.js';

export async function checkHealth(config: Config, now: number): Promise<HealthVerdict> {
  const families = await Promise.all(
    config.families.map(async (family) => ({
      family,
      gateways: familyView(config, family).gateways.map((gateway) => gateway.name),
      state: (await loadState(config.state_dir, family)).state,
    })),
  );
  return healthVerdict(families, now, (config.cluster?.max_state_age ?? DEFAULT_MAX_STATE_AGE_S) * 1000);
}
