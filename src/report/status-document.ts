// `netgwm status --json`, schema version 1: what the last cycle recorded, per gateway and overall.
// Built from the config and the state alone (no probe, no lock). The table and the metrics are
// rendered from this same document. Field meanings are documented in the README (Status).
import type { Config } from '../config/load.js';
import { siteMethod, type ProbeMethod } from '../core/check-site.js';
import type { Gateway } from '../core/types.js';
import { isStable, msUntilStable } from '../core/decide.js';
import { meanRtt, summarizeWindow, WINDOW } from '../core/measurements.js';
import type { ModeSource } from '../core/mode.js';
import type { Policy } from '../core/balance.js';
import { hookRole, type Role } from '../core/cluster.js';
import { own } from '../core/records.js';
import type { State } from '../core/types.js';
import { iso, seconds } from './json-units.js';

export const STATUS_SCHEMA_VERSION = 1;
/** A last cycle older than this probably means cron or the daemon stopped running. */
export const OLD_CYCLE_MS = 10 * 60_000;

export interface SiteStatus {
  /** The site as written (pinged), or a method site's key (`tcp:203.0.113.10:443`, a URL, `dns:NAME@SERVER/TYPE`). */
  site: string;
  /** How it is probed: icmp, tcp, http or dns (read from the key). */
  method: ProbeMethod;
  answered: boolean;
  rtt_ms: number | null;
  replies: number;
  sent: number;
}

export interface GatewayStatus {
  name: string;
  /** The address family of this row: a dual-stack gateway has one row per family. */
  family: 4 | 6;
  /** null only when the config does not load and does not say. */
  priority: number | null;
  ip: string | null;
  dev: string | null;
  active: boolean;
  pinned: boolean;
  /** `unknown`: never probed (NetGWM probes only the current and better gateways). */
  state: 'up' | 'down' | 'unknown';
  /** `state`, with `degraded` for a gateway that is up but above its loss or RTT thresholds. */
  health: 'up' | 'degraded' | 'down' | 'unknown';
  /** Why, e.g. `down: loss 42 % ≥ 30 % over 30 s`; null when never probed. */
  reason: string | null;
  since: string | null;
  for_s: number | null;
  stable: boolean;
  /** Seconds until an up gateway becomes stable (0 when it is); null when down or unknown. */
  stable_in_s: number | null;
  checked_at: string | null;
  checked_age_s: number | null;
  /** False when the last cycle did not probe it: its figures are older than the last cycle. */
  fresh: boolean;
  sites_answered: number | null;
  sites_probed: number | null;
  /** The sites of its newest probe. */
  sites: SiteStatus[];
  rtt_ms: { last: number | null; mean: number | null; max: number | null };
  loss: { ratio: number | null; sent: number; replies: number; probes: number; since: string | null };
  /** Its configured weight in a balanced tier; null when it has none. */
  weight: number | null;
  /** Its part of its balanced tier's new connections (0 when out of the share); null when not in a balanced tier. */
  share: number | null;
}

/** A balanced tier: gateways of one priority that all have a weight (README "Balanced tiers"). */
export interface TierStatus {
  priority: number;
  /** True when the default route's gateway is in this tier: it gets the new connections no rule takes. */
  default: boolean;
  members: Array<{ name: string; weight: number; share: number; in_share: boolean; state: GatewayStatus['state'] }>;
}

/** A policy rule and where its connections go now. */
export interface RuleStatus {
  rule: number;
  /** The policy as written: `isp1`, `voip, isp2`, `tier 1` or `default`. */
  use: string;
  /** The gateway its failover list uses now (null: none up, it follows the default); null for a tier or default. */
  gateway: string | null;
}

/** One family's decision: the IPv4 one's fields are the document's own, the IPv6 one's are `ipv6`. */
export interface DecisionStatus {
  active: string | null;
  all_down_since: string | null;
  last_cycle: { at: string; age_s: number; old: boolean; duration_ms: number | null } | null;
  last_switch: { at: string; age_s: number; from: string | null; to: string; reason: string; incomplete: string[] } | null;
  totals: { switches: number; hook_failures: number };
}

/** The IPv6 decision (README "IPv6"): its own state file, mode (a pin of a gateway without IPv6 leaves it `auto`) and route. */
export interface Ipv6Status extends DecisionStatus {
  state_file: string;
  has_state: boolean;
  state_problem: string | null;
  mode: string;
}

/** This router in its HA pair (README "HA pairs"): what keepalived's notify said last. */
export interface ClusterStatus {
  /** null: no role file yet (keepalived has not called `netgwm role`): behaves as backup. */
  role: Role | null;
  role_file: string;
  /** Whether the hooks (and the notifications they send) run on this router now: only as master. */
  runs_hooks: boolean;
}

export interface StatusDocument extends DecisionStatus {
  schema_version: typeof STATUS_SCHEMA_VERSION;
  generated_at: string;
  config_file: string;
  state_file: string;
  /** False before the first cycle finished; then every gateway is `unknown`. */
  has_state: boolean;
  /** Why the state file could not be used, when it exists but is unreadable. */
  state_problem: string | null;
  /** Why the config does not load (one line each); the rest is then the last state recorded. */
  config_problems: string[];
  /** `auto` or the pinned gateway's name. */
  mode: string;
  /** Where `mode` comes from: the config's `mode` key (wins when written), `netgwm use`, or neither. */
  mode_source: ModeSource;
  /** What STATE_DIR/mode (`netgwm use`) says, also when the config's `mode` overrides it; null: no file. */
  mode_file: string | null;
  /** The address families the config has gateways in; the document's own decision fields are IPv4's. */
  families: Array<4 | 6>;
  window: { max_probes: number; max_age_s: number };
  /** Best first, IPv4 rows, then IPv6 rows. */
  gateways: GatewayStatus[];
  tiers: TierStatus[];
  rules: RuleStatus[];
  /** The IPv6 decision; null when no gateway has IPv6. */
  ipv6: Ipv6Status | null;
  /** This router's role in its HA pair; null without `cluster:` (standalone). */
  cluster: ClusterStatus | null;
}

/** A gateway as status shows it; a config that does not load may not tell its priority. */
export type StatusGateway = Pick<Gateway, 'name' | 'ip' | 'dev' | 'weight'> & { priority: number | null };

export interface StatusInput {
  config: Pick<Config, 'file' | 'min_uptime'> & { gateways: StatusGateway[]; rules?: Array<{ use: Policy }> };
  configProblems?: string[];
  state: State;
  stateFile: string;
  hasState: boolean;
  stateProblem?: string;
  mode: string;
  modeSource?: ModeSource;
  modeFile?: string;
  now: number;
  /** With IPv6 gateways: the IPv6 decision's state and gateways (their IPv6 view: `ip` is the IPv6 next hop). `config.gateways` are then the IPv4 ones. */
  ipv6?: { state: State; stateFile: string; hasState: boolean; stateProblem?: string; gateways: StatusGateway[]; mode: string };
  /** With `cluster:`: the role file and what it says (undefined: nothing yet). */
  cluster?: { roleFile: string; role: Role | undefined };
}

export function statusDocument(input: StatusInput): StatusDocument {
  const { state, now, ipv6 } = input;
  const rows4 = input.config.gateways.map((gateway) => gatewayStatus(gateway, input, 4));
  const rows6 = ipv6 ? ipv6.gateways.map((gateway) => gatewayStatus(gateway, { ...input, state: ipv6.state, mode: ipv6.mode }, 6)) : [];
  const { gateways, tiers } = withTiers(rows4, state);
  return {
    schema_version: STATUS_SCHEMA_VERSION,
    generated_at: iso(now),
    config_file: input.config.file,
    state_file: input.stateFile,
    has_state: input.hasState,
    state_problem: input.stateProblem ?? null,
    config_problems: input.configProblems ?? [],
    mode: input.mode,
    mode_source: input.modeSource ?? 'default',
    mode_file: input.modeFile ?? null,
    families: [...(rows4.length > 0 || !ipv6 ? [4 as const] : []), ...(ipv6 ? [6 as const] : [])],
    ...decisionStatus(state, now),
    window: { max_probes: WINDOW.maxSamples, max_age_s: WINDOW.maxAgeMs / 1000 },
    gateways: [...gateways, ...rows6],
    tiers,
    rules: (input.config.rules ?? []).map((rule, index) => ({
      rule: index + 1,
      use: describePolicy(rule.use),
      gateway: state.balance?.rules[index] ?? null,
    })),
    ipv6: ipv6
      ? {
          state_file: ipv6.stateFile,
          has_state: ipv6.hasState,
          state_problem: ipv6.stateProblem ?? null,
          mode: ipv6.mode,
          ...decisionStatus(ipv6.state, now),
        }
      : null,
    cluster: input.cluster
      ? { role: input.cluster.role ?? null, role_file: input.cluster.roleFile, runs_hooks: hookRole(true, input.cluster.role).runsHooks }
      : null,
  };
}

function decisionStatus(state: State, now: number): DecisionStatus {
  return {
    active: state.active ?? null,
    all_down_since: state.allDownSince === undefined ? null : iso(state.allDownSince),
    last_cycle:
      state.lastCycleAt === undefined
        ? null
        : {
            at: iso(state.lastCycleAt),
            age_s: seconds(now - state.lastCycleAt),
            old: now - state.lastCycleAt > OLD_CYCLE_MS,
            duration_ms: state.lastCycleMs ?? null,
          },
    last_switch: state.lastSwitch
      ? {
          at: iso(state.lastSwitch.at),
          age_s: seconds(now - state.lastSwitch.at),
          from: state.lastSwitch.from ?? null,
          to: state.lastSwitch.to,
          reason: state.lastSwitch.reason,
          incomplete: state.lastSwitch.incomplete ?? [],
        }
      : null,
    totals: { switches: state.totals?.switches ?? 0, hook_failures: state.totals?.hookFailures ?? 0 },
  };
}

/**
 * The balanced tiers, from the shares the last cycle loaded (state.balance), and each member's
 * weight and share. A tier no policy used in the last cycle shows its members out of the share.
 */
function withTiers(gateways: GatewayStatus[], state: State): { gateways: GatewayStatus[]; tiers: TierStatus[] } {
  const priorities = [...new Set(gateways.map((gateway) => gateway.priority))].filter(
    (priority): priority is number => priority !== null && gateways.filter((gateway) => gateway.priority === priority).length > 1,
  );
  const tiers = priorities.map((priority): TierStatus => {
    const members = gateways.filter((gateway) => gateway.priority === priority);
    const inShare = own(state.balance?.tiers, String(priority)) ?? [];
    const total = members.filter((member) => inShare.includes(member.name)).reduce((sum, member) => sum + (member.weight ?? 1), 0);
    for (const member of members)
      member.share = inShare.includes(member.name) ? Math.round(((member.weight ?? 1) / total) * 1000) / 1000 : 0;
    return {
      priority,
      default: members.some((member) => member.active),
      members: members.map((member) => ({
        name: member.name,
        weight: member.weight ?? 1,
        share: member.share!,
        in_share: inShare.includes(member.name),
        state: member.state,
      })),
    };
  });
  return { gateways, tiers };
}

function describePolicy(use: Policy): string {
  if (typeof use === 'string') return use;
  if (Array.isArray(use)) return use.join(', ');
  return `tier ${use.tier}`;
}

function gatewayStatus(gateway: StatusGateway, { config, state, mode, now }: StatusInput, family: 4 | 6): GatewayStatus {
  const record = own(state.gateways, gateway.name);
  const window = summarizeWindow(own(state.samples, gateway.name));
  const minUptimeMs = config.min_uptime * 1000;
  const last = meanRtt(window.last);
  // Stability is only known for a gateway probed in the last cycle (see chooseGateway).
  const fresh = record !== undefined && record.checkedAt === state.lastCycleAt;
  return {
    name: gateway.name,
    family,
    priority: gateway.priority,
    ip: gateway.ip ?? (own(state.addresses, gateway.name) || null), // `auto`: as the last cycle resolved it ('': none)
    dev: gateway.dev ?? null,
    active: state.active === gateway.name,
    pinned: mode === gateway.name,
    state: record ? (record.up ? 'up' : 'down') : 'unknown',
    health: record ? (record.degraded ? 'degraded' : record.up ? 'up' : 'down') : 'unknown',
    reason: record?.reason ?? null,
    since: record ? iso(record.since) : null,
    for_s: record ? seconds(now - record.since) : null,
    stable: fresh && isStable(record, now, minUptimeMs),
    stable_in_s: fresh && record?.up ? seconds(msUntilStable(record, now, minUptimeMs)) : null,
    checked_at: record ? iso(record.checkedAt) : null,
    checked_age_s: record ? seconds(now - record.checkedAt) : null,
    fresh,
    sites_answered: window.last.length > 0 ? window.last.filter((sample) => sample.replies > 0).length : null,
    sites_probed: window.last.length > 0 ? window.last.length : null,
    sites: window.last.map((sample) => ({
      site: sample.site,
      method: siteMethod(sample.site),
      answered: sample.replies > 0,
      rtt_ms: rounded(sample.rttMs),
      replies: sample.replies,
      sent: sample.sent,
    })),
    rtt_ms: { last: rounded(last), mean: rounded(window.rttMeanMs), max: rounded(window.rttMaxMs) },
    loss: {
      ratio: window.lossRatio === undefined ? null : Math.round(window.lossRatio * 10_000) / 10_000,
      sent: window.sent,
      replies: window.replies,
      probes: window.probes,
      since: window.since === undefined ? null : iso(window.since),
    },
    weight: gateway.weight ?? null,
    share: null,
  };
}

const rounded = (ms: number | undefined) => (ms === undefined ? null : Math.round(ms * 100) / 100);
