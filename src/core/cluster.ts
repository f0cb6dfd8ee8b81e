// An HA pair (README "HA pairs"): keepalived decides which router is master; netgwm keeps routing
// right in every role, runs hooks only as master, and tells keepalived whether it has an uplink.
// The decisions here are pure; src/cluster/ reads the files and runs the commands.
import type { State } from './types.js';

export const ROLES = ['master', 'backup', 'fault'] as const;
/** What keepalived's notify said this router is. */
export type Role = (typeof ROLES)[number];
/** What a hook sees in NETGWM_ROLE: a router without `cluster:` is `standalone`. */
export type HookRole = Role | 'standalone';

export function isRole(text: string): text is Role {
  return (ROLES as readonly string[]).includes(text);
}

/** The role file's content (one word and a newline); anything else is no role. */
export function parseRole(text: string | undefined): Role | undefined {
  const word = text?.trim();
  return word !== undefined && isRole(word) ? word : undefined;
}

/**
 * Whether hooks run, and the NETGWM_ROLE they get. A cluster member whose role is not known yet
 * (keepalived has not called `netgwm role`) behaves as a backup: two masters' hooks would both
 * announce the switch, a missed one is made up when the role becomes master.
 */
export function hookRole(clustered: boolean, written: Role | undefined): { role: HookRole; runsHooks: boolean } {
  if (!clustered) return { role: 'standalone', runsHooks: true };
  const role = written ?? 'backup';
  return { role, runsHooks: role === 'master' };
}

/** A conntrackd client command (`conntrackd -C FILE FLAG`) and why it is run. */
export interface ConntrackdStep {
  flag: string;
  does: string;
}

/**
 * What conntrackd's own primary-backup.sh runs on each keepalived transition. Every step runs even
 * when one before it failed, as there: a failed commit must not keep the resync from happening.
 * (The script's "start conntrackd if it is not running" on backup is left to its service.)
 */
export function conntrackdSteps(role: Role): ConntrackdStep[] {
  switch (role) {
    case 'master':
      return [
        { flag: '-c', does: 'commit the external cache (the peer synced connections) into the kernel table' },
        { flag: '-f', does: 'flush the internal and external caches' },
        { flag: '-R', does: 'resynchronize the internal cache with the kernel table' },
        { flag: '-B', does: 'send a bulk update to the backup' },
      ];
    case 'backup':
      return [
        { flag: '-t', does: 'shorten the kernel conntrack timers, to drop the entries of the old master' },
        { flag: '-n', does: 'request a resynchronization from the master' },
      ];
    case 'fault':
      return [{ flag: '-t', does: 'shorten the kernel conntrack timers, to drop the entries of the old master' }];
  }
}

/** One family's saved decision, as `netgwm health` reads it. */
export interface FamilyHealthInput {
  family: 4 | 6;
  /** The configured gateways of this family, best first. */
  gateways: string[];
  state: Pick<State, 'lastCycleAt' | 'gateways' | 'active'>;
}

export interface HealthVerdict {
  healthy: boolean;
  /** One line for keepalived's log: `ok: isp1 up`, `fail: no usable gateway`, `fail: state is 212 s old`. */
  line: string;
}

/**
 * Healthy when the newest saved cycle of any family is at most `maxAgeMs` old and some family has
 * a gateway up (an IPv6 uplink keeps a dual-stack router useful). The gateway named is the active
 * one when it is up, else the best one up.
 */
export function healthVerdict(families: FamilyHealthInput[], now: number, maxAgeMs: number): HealthVerdict {
  const savedAt = Math.max(...families.map(({ state }) => state.lastCycleAt ?? Number.NEGATIVE_INFINITY));
  if (!Number.isFinite(savedAt)) return { healthy: false, line: 'fail: no state saved yet (is the daemon or cron running?)' };
  const ageMs = now - savedAt;
  if (ageMs > maxAgeMs) return { healthy: false, line: `fail: state is ${Math.round(ageMs / 1000)} s old` };
  const up = families.flatMap(({ family, gateways, state }) => {
    const usable = gateways.filter((name) => state.gateways[name]?.up === true);
    const name = usable.includes(state.active ?? '') ? state.active! : usable[0];
    return name === undefined ? [] : [families.length > 1 ? `${name} up (IPv${family})` : `${name} up`];
  });
  return up.length > 0 ? { healthy: true, line: `ok: ${up.join(', ')}` } : { healthy: false, line: 'fail: no usable gateway' };
}

/** What the connection marks depend on, per gateway: equal on both routers for synced connections to keep their uplink. */
export interface MarkedGateway {
  name: string;
  mark?: number;
  table_id?: number;
}

/**
 * The differences between this router's gateways and its peer's that would send a synced
 * connection to another uplink after a takeover: a gateway of the same name with another mark or
 * table, or a mark that names different gateways on the two routers. `[key, message]` pairs.
 */
export function peerDifferences(local: MarkedGateway[], peer: MarkedGateway[], peerFile: string): [string, string][] {
  const problems: [string, string][] = [];
  const hex = (mark: number | undefined) => (mark === undefined ? 'none' : `0x${mark.toString(16)}`);
  for (const gateway of local) {
    const other = peer.find((candidate) => candidate.name === gateway.name);
    if (other) {
      if (other.mark !== gateway.mark)
        problems.push([
          `gateways.${gateway.name}.mark`,
          `expected the same mark as the peer's (${peerFile}: ${hex(other.mark)}), got ${hex(gateway.mark)}; connections synced by conntrackd keep their mark, so a takeover would move them to another uplink`,
        ]);
      if (other.table_id !== gateway.table_id)
        problems.push([
          `gateways.${gateway.name}.table`,
          `expected the same routing table as the peer's (${peerFile}: ${other.table_id ?? 'none'}), got ${gateway.table_id ?? 'none'}`,
        ]);
      continue;
    }
    const sameMark = peer.find((candidate) => gateway.mark !== undefined && candidate.mark === gateway.mark);
    if (sameMark)
      problems.push([
        `gateways.${gateway.name}.mark`,
        `mark ${hex(gateway.mark)} is gateway "${sameMark.name}" in the peer's config (${peerFile}); give an uplink the same name and mark on both routers`,
      ]);
  }
  return problems;
}
