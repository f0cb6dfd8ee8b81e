// `cluster:`: this router is one of an HA pair run by keepalived (README "HA pairs").
import { resolve } from 'node:path';
import * as z from 'zod';
import { peerDifferences, type MarkedGateway } from '../core/cluster.js';
import { filePath } from './reports.js';

/** 3 × 60 s: three missed cycles of cron (every minute) or of the daemon at its default --interval. */
export const DEFAULT_MAX_STATE_AGE_S = 180;

export const clusterSchema = z.strictObject({
  /** Where `netgwm role` keeps the role keepalived gave this router; default STATE_DIR/role. */
  role_file: filePath.optional(),
  /** Run conntrackd's commit (master) and timer (backup, fault) commands on each role change. */
  conntrackd: z.boolean().default(false),
  /** The conntrackd.conf those commands name with -C (its UNIX socket is how they reach the daemon). */
  conntrackd_config: filePath.default('/etc/conntrackd/conntrackd.conf'),
  /** A copy of the peer router's config: load time checks that the same uplinks have the same marks. */
  peer_config: filePath.optional(),
  /** Seconds after which `netgwm health` calls the saved state stale (set 3 × the daemon's --interval). */
  max_state_age: z.number().min(1).max(86_400).default(DEFAULT_MAX_STATE_AGE_S),
});

export interface ClusterSettings {
  role_file: string;
  conntrackd: boolean;
  conntrackd_config: string;
  peer_config?: string;
  max_state_age: number;
}

/** Paths made absolute (relative ones are relative to the config file), the role file defaulted. */
export function compileCluster(
  cluster: z.output<typeof clusterSchema> | undefined,
  stateDir: string,
  here: string,
): ClusterSettings | undefined {
  if (!cluster) return undefined;
  return {
    ...cluster,
    role_file: cluster.role_file === undefined ? resolve(stateDir, 'role') : resolve(here, cluster.role_file),
    conntrackd_config: resolve(here, cluster.conntrackd_config),
    ...(cluster.peer_config !== undefined && { peer_config: resolve(here, cluster.peer_config) }),
  };
}

/**
 * `cluster.peer_config`: loads the peer's config (without its own peer check) and compares the
 * marks and tables of the uplinks; `[key, message]` pairs.
 */
export async function checkPeer(
  peerFile: string,
  gateways: MarkedGateway[],
  loadPeer: (file: string) => Promise<{ gateways: MarkedGateway[] }>,
): Promise<[string, string][]> {
  let peer: { gateways: MarkedGateway[] };
  try {
    peer = await loadPeer(peerFile);
  } catch (error) {
    const problems = (error as { problems?: string[] }).problems ?? [(error as Error).message];
    return [
      [
        'cluster.peer_config',
        `the peer's config does not load (${problems[0]}${problems.length > 1 ? `, and ${problems.length - 1} more` : ''}); copy the peer's netgwm.yml there again`,
      ],
    ];
  }
  return peerDifferences(gateways, peer.gateways, peerFile);
}
